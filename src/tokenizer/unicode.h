// Small Unicode helpers for the added-token options (lstrip, rstrip, single_word).
#pragma once
#include <cstdint>
#include <string_view>

namespace dsv4::tok {

// Decodes the code point at s[i] (advancing i); invalid bytes decode as U+FFFD, 1 byte.
uint32_t next_code_point(std::string_view s, size_t& i);
// Decodes the code point that ends at s[i] (moving i back to its first byte).
uint32_t prev_code_point(std::string_view s, size_t& i);
// Unicode White_Space (Rust's char::is_whitespace).
bool is_white_space(uint32_t cp);
// A \w character (letters, marks, digits, connector punctuation).
bool is_word_char(uint32_t cp);

bool ends_with_word_char(std::string_view s);
bool starts_with_word_char(std::string_view s);
// Length of s without its trailing whitespace.
size_t trim_trailing_whitespace(std::string_view s);
// Number of leading whitespace bytes of s.
size_t skip_leading_whitespace(std::string_view s);

}  // namespace dsv4::tok
