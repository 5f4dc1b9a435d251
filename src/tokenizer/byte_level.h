// GPT-2 byte-level alphabet: every byte maps to one printable code point, so any
// byte string becomes a string of visible "characters" that BPE can work on.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace dsv4::tok {

class ByteLevelAlphabet {
public:
    ByteLevelAlphabet();
    // The UTF-8 encoding of the code point that stands for byte b.
    const std::string& encode_byte(uint8_t b) const { return byte_to_utf8_[b]; }
    // Appends the byte-level form of `bytes` to out.
    void encode(std::string_view bytes, std::string& out) const;
    // Byte-level token string -> raw bytes. Returns false (out untouched) if some
    // character is not in the alphabet: the caller then uses the string as is (as HF does).
    bool decode(std::string_view token, std::string& out) const;

private:
    std::array<std::string, 256> byte_to_utf8_;
    std::array<int16_t, 324> cp_to_byte_;  // code points used are all < 324
};

// UTF-8 helpers.
// Length of the UTF-8 sequence starting with lead byte c (1 for invalid leads).
inline size_t utf8_len(uint8_t c) {
    if (c < 0x80) return 1;
    if ((c >> 5) == 0x6) return 2;
    if ((c >> 4) == 0xE) return 3;
    if ((c >> 3) == 0x1E) return 4;
    return 1;
}
void append_utf8(std::string& out, uint32_t cp);
// Appends `bytes` to out, replacing every maximal ill-formed subsequence with U+FFFD
// (the same policy as Rust's String::from_utf8_lossy, which HF tokenizers uses).
void append_utf8_lossy(std::string_view bytes, std::string& out);
// Length of the longest prefix of `bytes` that could still be completed into a valid
// UTF-8 sequence, counted from the start of the last (incomplete) sequence; 0 if the
// string ends on a complete character or an invalid byte.
size_t utf8_incomplete_tail(std::string_view bytes);

}  // namespace dsv4::tok
