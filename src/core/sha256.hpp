#pragma once

// SHA-256 (FIPS 180-4) and base64, for the page's Content-Security-Policy
// hashes ('sha256-...'): small enough to carry rather than link a crypto
// library into a static binary.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace devops::core {

std::array<std::uint8_t, 32> sha256(std::string_view data);
// Standard base64 with padding (RFC 4648 section 4).
std::string base64(const std::uint8_t* data, std::size_t size);
// "'sha256-BASE64'", a CSP source for an inline <style> or <script> with this content.
std::string csp_hash(std::string_view content);

}  // namespace devops::core
