#include "tokenizer/unicode.h"

#include <string>

#include "tokenizer/byte_level.h"
#include "tokenizer/regex.h"

namespace dsv4::tok {

uint32_t next_code_point(std::string_view s, size_t& i) {
    uint8_t c = uint8_t(s[i]);
    size_t n = utf8_len(c);
    if (n == 1 || i + n > s.size()) {
        ++i;
        return c < 0x80 ? c : 0xFFFD;
    }
    uint32_t cp = c & (0xFF >> (n + 1));
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (uint8_t(s[i + k]) & 0x3F);
    i += n;
    return cp;
}

uint32_t prev_code_point(std::string_view s, size_t& i) {
    size_t j = i;
    do { --j; } while (j > 0 && i - j < 4 && (uint8_t(s[j]) & 0xC0) == 0x80);
    size_t k = j;
    uint32_t cp = next_code_point(s, k);
    if (k != i) {  // not one well-formed sequence: step back one byte only
        j = i - 1;
        cp = 0xFFFD;
    }
    i = j;
    return cp;
}

bool is_white_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

bool is_word_char(uint32_t cp) {
    if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
    // Compiled once, immutable afterwards (thread-safe static initialisation).
    static const Regex word(R"([\p{L}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}])", false, "word-character class");
    std::string s;
    append_utf8(s, cp);
    return word.matches_at(s, 0);
}

bool ends_with_word_char(std::string_view s) {
    if (s.empty()) return false;
    size_t i = s.size();
    return is_word_char(prev_code_point(s, i));
}

bool starts_with_word_char(std::string_view s) {
    if (s.empty()) return false;
    size_t i = 0;
    return is_word_char(next_code_point(s, i));
}

size_t trim_trailing_whitespace(std::string_view s) {
    size_t i = s.size();
    while (i > 0) {
        size_t j = i;
        if (!is_white_space(prev_code_point(s, j))) break;
        i = j;
    }
    return i;
}

size_t skip_leading_whitespace(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        size_t j = i;
        if (!is_white_space(next_code_point(s, j))) break;
        i = j;
    }
    return i;
}

}  // namespace dsv4::tok
