// Tokenizer stages on a small synthetic tokenizer.json (no downloaded file needed):
// GPT-2 ByteLevel pre-tokenizer (use_regex, add_prefix_space), added tokens with
// lstrip / rstrip / single_word / normalized, merges by rank, decoding, and refusals.
// Expected ids come from HF tokenizers (Rust) on the same file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace {

using nlohmann::json;
using dsv4::test::synthetic_tokenizer;

class TempTokenizer {
public:
    explicit TempTokenizer(const json& j, const std::string& name = "tokenizer.json") {
        dir_ = std::filesystem::temp_directory_path() /
               ("dsv4_tok_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
        std::filesystem::create_directories(dir_);
        path_ = (dir_ / name).string();
        std::ofstream(path_) << j.dump();
    }
    ~TempTokenizer() { std::filesystem::remove_all(dir_); }
    const std::string& path() const { return path_; }

private:
    static int& counter() {
        static int n = 0;
        return n;
    }
    std::filesystem::path dir_;
    std::string path_;
};

struct Case {
    std::string text;
    std::vector<int32_t> ids;
    std::string decoded;
};

// Produced by HF tokenizers 0.x (Rust, via @anush008/tokenizers) on synthetic_tokenizer().
const std::vector<Case> kCases = {
    {"the and word", {258, 262, 32, 275}, " the and word"},
    {"hello world", {32, 257, 268, 111, 266, 108, 100}, " hello world"},
    {"Hello  the\n\nand", {32, 72, 269, 111, 32, 258, 10, 10, 97, 110, 100}, " Hello  the\n\nand"},
    {"a <s> b", {259, 32, 272, 32, 98}, " a <s> b"},
    {"x<s>x the", {32, 120, 272, 32, 120, 258}, " x<s> x the"},
    {"a [L] b", {259, 273, 32, 98}, " a[L] b"},
    {"a   [L]b", {259, 273, 32, 98}, " a[L] b"},
    {"a [R]   b", {259, 32, 274, 32, 98}, " a [R] b"},
    {"a[R]\n\nb", {259, 274, 32, 98}, " a[R] b"},
    {"word", {275}, "word"},
    {"a word b", {259, 32, 275, 32, 98}, " a word b"},
    {"aword b", {259, 119, 265, 100, 32, 98}, " aword b"},
    {"a wordy", {259, 267, 121}, " a wordy"},
    {"word_x", {267, 95, 120}, " word_x"},
    {"it's 12345 ok!?", {32, 105, 116, 39, 115, 32, 49, 50, 51, 52, 53, 32, 111, 107, 33, 63}, " it's 12345 ok!?"},
    {"  leading", {32, 32, 108, 101, 97, 100, 260, 103}, "  leading"},
    {"tail  ", {256, 97, 105, 108, 32, 32}, " tail  "},
    {"", {}, ""},
    {" ", {32}, " "},
    {"\u00e9\u6f22\u5b57\U0001F642", {32, 195, 169, 230, 188, 162, 229, 173, 151, 240, 159, 153, 130},
     " \u00e9\u6f22\u5b57\U0001F642"},
    {"<s>", {272}, "<s>"},
    {"<s><s>the", {272, 272, 258}, "<s><s> the"},
    {"the\u00a0and", {258, 194, 160, 97, 110, 100}, " the\u00a0and"},
    {"[L][L] [R] [R]x", {273, 273, 32, 274, 274, 32, 120}, "[L][L] [R][R] x"},
};

}  // namespace

TEST(TokUnit, SyntheticMatchesHfTokenizers) {
    TempTokenizer file(synthetic_tokenizer());
    auto tok = dsv4::Tokenizer::from_file(file.path());
    EXPECT_EQ(tok.vocab_size(), 277u);
    EXPECT_EQ(tok.token_id("<s>x"), 276);
    EXPECT_EQ(tok.token_id("Ġthe"), 258);
    for (const auto& c : kCases) {
        EXPECT_EQ(tok.encode(c.text), c.ids) << "text: " << c.text;
        EXPECT_EQ(tok.decode(c.ids), c.decoded) << "text: " << c.text;
    }
}

TEST(TokUnit, DecodeRejectsUnknownIds) {
    TempTokenizer file(synthetic_tokenizer());
    auto tok = dsv4::Tokenizer::from_file(file.path());
    std::vector<int32_t> ids{258, 277};
    EXPECT_THROW(tok.decode(ids), std::out_of_range);
    ids = {-1};
    EXPECT_THROW(tok.decode(ids), std::out_of_range);
}

TEST(TokUnit, DecodeRepairsBrokenUtf8LikeHf) {
    TempTokenizer file(synthetic_tokenizer());
    auto tok = dsv4::Tokenizer::from_file(file.path());
    // 0xE6 0xBC (a truncated 3-byte sequence) then 'a': one U+FFFD for the truncated part.
    std::vector<int32_t> ids{230, 188, 97};
    EXPECT_EQ(tok.decode(ids), "\xEF\xBF\xBD" "a");
    ids = {255, 97};  // 0xFF is never valid
    EXPECT_EQ(tok.decode(ids), "\xEF\xBF\xBD" "a");
}

namespace {
std::string load_error(const json& j, const std::string& name = "tokenizer.json") {
    TempTokenizer file(j, name);
    try {
        dsv4::Tokenizer::from_file(file.path());
    } catch (const std::exception& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find(file.path()), std::string::npos) << "message does not name the file: " << msg;
        return msg;
    }
    ADD_FAILURE() << "no error";
    return "";
}
}  // namespace

TEST(TokUnit, RefusesUnsupportedParts) {
    json j = synthetic_tokenizer();
    j["model"]["type"] = "WordPiece";
    EXPECT_NE(load_error(j).find("WordPiece"), std::string::npos);

    j = synthetic_tokenizer();
    j["normalizer"] = {{"type", "NFKC"}};
    EXPECT_NE(load_error(j).find("NFKC"), std::string::npos);

    j = synthetic_tokenizer();
    j["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array({json{{"type", "Lowercase"}}})}};
    EXPECT_NE(load_error(j).find("Lowercase"), std::string::npos);

    j = synthetic_tokenizer();
    j["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", json::array({json{{"type", "Metaspace"}, {"replacement", "_"}}})}};
    EXPECT_NE(load_error(j).find("Metaspace"), std::string::npos);

    j = synthetic_tokenizer();
    j["decoder"] = {{"type", "WordPiece"}};
    EXPECT_NE(load_error(j).find("WordPiece"), std::string::npos);

    j = synthetic_tokenizer();
    j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
    EXPECT_NE(load_error(j).find("(unclosed"), std::string::npos);

    j = synthetic_tokenizer();
    j["model"]["merges"].push_back("Ġ zz");
    EXPECT_NE(load_error(j).find("merges"), std::string::npos);

    EXPECT_NE(load_error(json::array()).find("object"), std::string::npos);
    EXPECT_THROW(dsv4::Tokenizer::from_file("/nonexistent/tokenizer.json"), std::runtime_error);
}

TEST(TokUnit, SplitBehaviors) {
    // A Split on single digits with each behavior; the pieces are those HF's pre_tokenize_str gives.
    struct B {
        const char* behavior;
        bool invert;
        std::vector<std::string> pieces;
    };
    const std::vector<B> cases = {
        {"Isolated", false, {"ab", "1", "2", "cd", "3"}},
        {"Removed", false, {"ab", "cd"}},
        {"MergedWithPrevious", false, {"ab1", "2", "cd3"}},
        {"MergedWithNext", false, {"ab", "1", "2cd", "3"}},
        {"Contiguous", false, {"ab", "12", "cd", "3"}},
        {"Removed", true, {"1", "2", "3"}},
        {"MergedWithPrevious", true, {"ab", "1", "2cd", "3"}},
        {"Contiguous", true, {"ab", "12", "cd", "3"}},
    };
    for (const auto& c : cases) {
        json j = synthetic_tokenizer();
        j["added_tokens"] = json::array();
        // Merges across every boundary, so that each way of cutting gives other ids.
        int id = 300;
        for (const char* m : {"a b", "b 1", "1 2", "2 c", "c d", "d 3", "ab 1", "2 cd", "cd 3"}) {
            std::string merged = std::string(m);
            merged.erase(merged.find(' '), 1);
            if (!j["model"]["vocab"].contains(merged)) j["model"]["vocab"][merged] = id++;
            j["model"]["merges"].push_back(m);
        }
        j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "\\p{N}"}}}, {"behavior", c.behavior},
                              {"invert", c.invert}};
        TempTokenizer file(j);
        auto tok = dsv4::Tokenizer::from_file(file.path());
        std::vector<int32_t> want;
        for (const auto& p : c.pieces) {
            auto ids = tok.encode(p);
            want.insert(want.end(), ids.begin(), ids.end());
        }
        EXPECT_EQ(tok.encode("ab12cd3"), want) << c.behavior << (c.invert ? " (invert)" : "");
    }
}
