// Pre-tokenizers of tokenizer.json: Sequence, Split (regex or string pattern, every
// SplitDelimiterBehavior, invert) and ByteLevel (optional GPT-2 regex, add_prefix_space).
// A pre-tokenizer cuts one text into pieces; BPE then runs on each piece separately.
#pragma once
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace dsv4::tok {

// Pieces are views into the input text or into `arena` (for text a stage adds, e.g. the
// prefix space of ByteLevel). The arena lives as long as the pieces are used.
struct PieceBuffer {
    std::vector<std::string_view> pieces;
    std::deque<std::string> arena;
};

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    // Replaces each piece of `in` by its sub-pieces, appended to `out`.
    virtual void split(const std::vector<std::string_view>& in, std::vector<std::string_view>& out,
                       std::deque<std::string>& arena) const = 0;
};

// Builds the pre-tokenizer described by the JSON value (null -> nullptr: no splitting).
// Throws naming `file` and the unsupported type.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, const std::string& file);

// Runs `pt` (may be null) over `text`; the pieces land in buf.pieces.
void pre_tokenize(const PreTokenizer* pt, std::string_view text, PieceBuffer& buf);

}  // namespace dsv4::tok
