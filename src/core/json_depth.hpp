#pragma once

// How deep JSON from outside may nest. nlohmann's parser itself does not
// recurse, but every walk over a parsed value does (secrets redacted, the
// config rendered in GET / and the page), so a file of 50,000 nested arrays
// (100 KB) would overflow the stack. Every reader of JSON that comes from
// outside the process checks the text first: config files, the health
// probe's answer, the control channel's reply.

#include <cstddef>
#include <optional>
#include <string_view>

namespace devops::core {

// Config files and what else the program is handed. An 8-hop chain of
// upstream answers, each nested in the one before, stays well within it.
inline constexpr int kMaxJsonDepth = 64;

// The offset of the first '[' or '{' in `text` that opens a level deeper
// than `max` (strings skipped); nullopt when none does. A text that is not
// JSON is the parser's to refuse.
std::optional<std::size_t> json_too_deep(std::string_view text, int max = kMaxJsonDepth);

}  // namespace devops::core
