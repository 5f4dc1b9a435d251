// Hugging Face tokenizer.json (byte-level BPE) as DeepSeek uses it.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dsv4 {

class Tokenizer {
public:
    // Throws std::runtime_error naming the file and the unsupported part.
    static Tokenizer from_file(const std::string& path);
    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    ~Tokenizer();

    // No BOS/EOS added; added/special tokens in the text are matched.
    std::vector<int32_t> encode(std::string_view text) const;
    std::string decode(std::span<const int32_t> ids) const;
    // Id of a token string (added or vocab), or -1.
    int32_t token_id(std::string_view token) const;
    size_t vocab_size() const;

    // Raw bytes of one token (no UTF-8 repair: a token may hold part of a character).
    // Throws std::out_of_range for an unknown id.
    std::string token_bytes(int32_t id) const;
    // Whether id is a token of this tokenizer (vocab or added).
    bool contains(int32_t id) const;
    // Whether the id is an added token marked "special" in tokenizer.json.
    bool is_special(int32_t id) const;

private:
    struct Impl;
    explicit Tokenizer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Turns generated ids into text incrementally. Never emits a broken UTF-8 sequence: the
// bytes of a character split across tokens are held back until its last byte arrives.
// The concatenation of all push() results and flush() equals Tokenizer::decode(all ids) for ids
// the tokenizer has. An id it lacks (a model's vocabulary is often padded past its tokenizer's)
// adds no text, as HF's decode skips it, where Tokenizer::decode calls it an error.
class StreamDecoder {
public:
    explicit StreamDecoder(const Tokenizer& tok) : tok_(&tok) {}
    // Text completed by this token (possibly empty).
    std::string push(int32_t id);
    // Whatever is still held back, with incomplete sequences as U+FFFD; resets the decoder.
    std::string flush();
    // Bytes held back (0-3).
    size_t pending() const { return pending_.size(); }

private:
    const Tokenizer* tok_;
    std::string pending_;
};

}  // namespace dsv4
