// Exactness against reference encodings made with HF tokenizers (Rust) on DeepSeek's files.
#include <nlohmann/json.hpp>

#include "tokenizer_test_util.h"

namespace {

using dsv4::test::read_text;

void check_reference(const dsv4::Tokenizer& tok, const std::string& fixture) {
    auto docs = nlohmann::json::parse(read_text(std::string(DSV4_TEST_DATA) + "/tokenizer/" + fixture));
    ASSERT_TRUE(docs.is_array());
    ASSERT_GT(docs.size(), 100u);
    int bad = 0;
    for (size_t i = 0; i < docs.size(); ++i) {
        const std::string text = docs[i]["text"].get<std::string>();
        const std::vector<int32_t> want = docs[i]["ids"].get<std::vector<int32_t>>();
        const std::vector<int32_t> got = tok.encode(text);
        if (got != want) {
            size_t k = 0;
            while (k < got.size() && k < want.size() && got[k] == want[k]) ++k;
            ADD_FAILURE() << fixture << " doc " << i << ": ids differ at index " << k << " (got "
                          << (k < got.size() ? std::to_string(got[k]) : "end") << ", want "
                          << (k < want.size() ? std::to_string(want[k]) : "end") << ")";
            if (++bad > 5) return;
        }
        EXPECT_EQ(tok.decode(want), text) << fixture << " doc " << i << " does not decode back";
    }
}

}  // namespace

TEST(TokenizerReference, DeepSeekV3) {
    DSV4_REQUIRE_TOKENIZER(tok, "deepseek_v3");
    check_reference(*tok, "deepseek-v3-reference-encodings.json");
}

TEST(TokenizerReference, DeepSeekV4) {
    DSV4_REQUIRE_TOKENIZER(tok, "deepseek_v4");
    check_reference(*tok, "deepseek-v4-reference-encodings.json");
}

TEST(TokenizerReference, DeepSeekV4ChatVector) {
    DSV4_REQUIRE_TOKENIZER(tok, "deepseek_v4");
    const std::string text = "<｜User｜>你好<｜Assistant｜><think>推理</think>答案<｜end▁of▁sentence｜>";
    const std::vector<int32_t> want{128803, 30594, 128804, 128821, 36101, 128822, 7624, 1};
    EXPECT_EQ(tok->encode(text), want);
    EXPECT_EQ(tok->decode(want), text);
    EXPECT_EQ(tok->token_id("<think>"), 128821);
    EXPECT_EQ(tok->token_id("</think>"), 128822);
    EXPECT_EQ(tok->token_id("｜DSML｜"), 128825);
    EXPECT_EQ(tok->token_id("<｜begin▁of▁sentence｜>"), 0);
    EXPECT_EQ(tok->token_id("no such token"), -1);
    EXPECT_EQ(tok->vocab_size(), 129280u);
    EXPECT_TRUE(tok->is_special(1));
    EXPECT_FALSE(tok->is_special(128821));
}
