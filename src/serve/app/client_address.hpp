#pragma once

// Who the client is behind proxies: the peer, unless the peer is a trusted
// proxy (--trusted-proxies); then the rightmost address of Forwarded's for=
// (RFC 7239), or else of X-Forwarded-For, that is not a trusted proxy, as
// nginx's real_ip_recursive reads them. Anything that is not an address
// ("unknown", "_hidden", garbage) ends the walk at the last address found:
// a client cannot name itself past a proxy that did not vouch for it.

#include <string>
#include <string_view>
#include <vector>

#include "core/cidr.hpp"

namespace devops::serve {

std::string client_address(std::string_view peer, std::string_view forwarded_for, std::string_view forwarded,
                           const std::vector<core::Cidr>& trusted);

}  // namespace devops::serve
