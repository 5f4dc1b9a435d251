// Added tokens (tokenizer.json "added_tokens"): found in the raw text before
// pre-tokenization, with HF semantics: leftmost-longest matching, single_word, lstrip,
// rstrip. Tokens with normalized=false are searched first in the original text; those
// with normalized=true then in the remaining (normalized) pieces.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dsv4::tok {

struct AddedToken {
    std::string content;
    int32_t id = -1;
    bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
};

// A byte trie over a set of added tokens; finds HF-style leftmost-longest matches.
class AddedTokenMatcher {
public:
    void add(const AddedToken* t);
    bool empty() const { return nodes_.size() <= 1; }
    // A slice of the text: an added token (token != nullptr) or text to pre-tokenize.
    struct Split {
        size_t begin, end;
        const AddedToken* token;
    };
    // Appends the splits of text[begin, end) to out (HF's AddedVocabulary::find_matches).
    void split(std::string_view text, size_t begin, size_t end, std::vector<Split>& out) const;

private:
    struct Node {
        std::vector<std::pair<uint8_t, uint32_t>> next;  // sorted by byte
        const AddedToken* token = nullptr;
    };
    uint32_t child(uint32_t n, uint8_t b) const;
    std::vector<Node> nodes_{Node{}};
    bool first_byte_[256] = {};
};

}  // namespace dsv4::tok
