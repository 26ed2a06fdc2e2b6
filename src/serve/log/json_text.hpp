#pragma once

#include <string>
#include <string_view>

namespace devops::serve {

// Appends `s` as a quoted JSON string. Control characters are escaped and
// invalid UTF-8 becomes U+FFFD, so client-supplied text (paths, user agents)
// always gives valid JSON.
void append_json_string(std::string& out, std::string_view s);

// Whether `s` is valid UTF-8 (RFC 3629: no overlong forms, no surrogates).
bool valid_utf8(std::string_view s);

// The first `max` bytes of `s` (all of it when shorter): keeps log lines short.
std::string_view clip(std::string_view s, std::size_t max);

}  // namespace devops::serve
