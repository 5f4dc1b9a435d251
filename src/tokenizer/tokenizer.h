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

private:
    struct Impl;
    explicit Tokenizer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace dsv4
