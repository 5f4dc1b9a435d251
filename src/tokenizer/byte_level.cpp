#include "tokenizer/byte_level.h"

namespace dsv4::tok {

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

ByteLevelAlphabet::ByteLevelAlphabet() {
    // Printable Latin-1 bytes stand for themselves; the others (control chars, space,
    // DEL, NBSP, soft hyphen...) are shifted to U+0100 and up, in byte order.
    cp_to_byte_.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        uint32_t cp = printable ? uint32_t(b) : next++;
        append_utf8(byte_to_utf8_[b], cp);
        cp_to_byte_[cp] = int16_t(b);
    }
}

void ByteLevelAlphabet::encode(std::string_view bytes, std::string& out) const {
    for (unsigned char c : bytes) out += byte_to_utf8_[c];
}

bool ByteLevelAlphabet::decode(std::string_view token, std::string& out) const {
    size_t start = out.size();
    for (size_t i = 0; i < token.size();) {
        uint8_t c = uint8_t(token[i]);
        uint32_t cp;
        if (c < 0x80) {
            cp = c;
            i += 1;
        } else if ((c >> 5) == 0x6 && i + 1 < token.size()) {
            cp = ((c & 0x1Fu) << 6) | (uint8_t(token[i + 1]) & 0x3Fu);
            i += 2;
        } else {
            cp = 0xFFFFFFFF;  // 3- and 4-byte characters are never in the alphabet
        }
        if (cp >= cp_to_byte_.size() || cp_to_byte_[cp] < 0) {
            out.resize(start);
            return false;
        }
        out += char(cp_to_byte_[cp]);
    }
    return true;
}

namespace {
// Length of a well-formed UTF-8 sequence at s[i], or 0 with `valid_prefix` set to the
// number of bytes that form a valid but truncated prefix (for the lossy/stream decoders).
size_t check_seq(std::string_view s, size_t i, size_t& valid_prefix) {
    uint8_t c = uint8_t(s[i]);
    valid_prefix = 0;
    if (c < 0x80) return 1;
    size_t n;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) { n = 3; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) n = 3;
    else if (c == 0xED) { n = 3; hi = 0x9F; }
    else if (c >= 0xEE && c <= 0xEF) n = 3;
    else if (c == 0xF0) { n = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else if (c == 0xF4) { n = 4; hi = 0x8F; }
    else return 0;  // invalid lead byte: prefix 0
    size_t k = 1;
    for (; k < n; ++k) {
        if (i + k >= s.size()) { valid_prefix = k; return 0; }
        uint8_t d = uint8_t(s[i + k]);
        uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (d < l || d > h) { valid_prefix = k; return 0; }
    }
    return n;
}
}  // namespace

void append_utf8_lossy(std::string_view bytes, std::string& out) {
    size_t i = 0;
    while (i < bytes.size()) {
        size_t prefix;
        size_t n = check_seq(bytes, i, prefix);
        if (n) {
            out.append(bytes.data() + i, n);
            i += n;
        } else {
            out += "\xEF\xBF\xBD";
            i += prefix ? prefix : 1;  // one U+FFFD per maximal ill-formed subpart
        }
    }
}

size_t utf8_incomplete_tail(std::string_view bytes) {
    // A truncated sequence starts at the last non-continuation byte, at most 3 bytes back.
    size_t stop = bytes.size() > 4 ? bytes.size() - 4 : 0;
    for (size_t i = bytes.size(); i > stop;) {
        --i;
        if ((uint8_t(bytes[i]) & 0xC0) == 0x80) continue;
        size_t prefix;
        size_t n = check_seq(bytes, i, prefix);
        return (n == 0 && prefix > 0 && i + prefix == bytes.size()) ? prefix : 0;
    }
    return 0;
}

}  // namespace dsv4::tok
