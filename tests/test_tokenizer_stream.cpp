// StreamDecoder: ids -> text incrementally, never a broken UTF-8 sequence.
#include <random>

#include "tokenizer/byte_level.h"
#include "tokenizer_test_util.h"

namespace {

bool valid_utf8(const std::string& s) {
    std::string repaired;
    dsv4::tok::append_utf8_lossy(s, repaired);
    return repaired == s;
}

// Streams ids one by one; checks every chunk is whole UTF-8 and the total equals decode().
void check_stream(const dsv4::Tokenizer& tok, const std::vector<int32_t>& ids, bool* held_back = nullptr) {
    dsv4::StreamDecoder dec(tok);
    std::string all;
    for (int32_t id : ids) {
        std::string chunk = dec.push(id);
        EXPECT_TRUE(valid_utf8(chunk)) << "chunk after id " << id << " is not valid UTF-8";
        if (chunk.empty() && dec.pending() > 0 && held_back) *held_back = true;
        all += chunk;
    }
    std::string tail = dec.flush();
    EXPECT_TRUE(valid_utf8(tail));
    EXPECT_EQ(dec.pending(), 0u);
    all += tail;
    EXPECT_EQ(all, tok.decode(ids));
}

}  // namespace

TEST(TokUnitUtf8, IncompleteTail) {
    using dsv4::tok::utf8_incomplete_tail;
    EXPECT_EQ(utf8_incomplete_tail(""), 0u);
    EXPECT_EQ(utf8_incomplete_tail("abc"), 0u);
    EXPECT_EQ(utf8_incomplete_tail("a\xF0\x9F"), 2u);       // 2 of 4 bytes of an emoji
    EXPECT_EQ(utf8_incomplete_tail("a\xF0\x9F\x99"), 3u);   // 3 of 4
    EXPECT_EQ(utf8_incomplete_tail("\xF0\x9F\x99\x82"), 0u);  // complete
    EXPECT_EQ(utf8_incomplete_tail("\xE6\xBC"), 2u);
    EXPECT_EQ(utf8_incomplete_tail("\xE6"), 1u);
    EXPECT_EQ(utf8_incomplete_tail("x\xFF"), 0u);  // invalid byte: nothing to wait for
    EXPECT_EQ(utf8_incomplete_tail("\xE0\x80"), 0u);  // overlong: can never complete
    EXPECT_EQ(utf8_incomplete_tail("\x80\x80"), 0u);
}

TEST(TokenizerStream, CharactersSplitAcrossTokensWait) {
    DSV4_REQUIRE_TOKENIZER(tok, "deepseek_v4");
    const std::string text =
        "Stream 🙂 test: 日本語のテキスト, emoji 👩‍👩‍👧‍👦 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢, Ελληνικά, العربية, हिन्दी.\n<think>思考</think>";
    auto ids = tok->encode(text);
    bool held_back = false;
    check_stream(*tok, ids, &held_back);
    EXPECT_TRUE(held_back) << "expected at least one character split across tokens";
    EXPECT_EQ(tok->decode(ids), text);
}

TEST(TokenizerStream, RandomIdsMatchDecode) {
    DSV4_REQUIRE_TOKENIZER(tok, "deepseek_v4");
    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> any(0, int32_t(tok->vocab_size()) - 1), low(0, 400);
    for (int n = 0; n < 200; ++n) {
        std::vector<int32_t> ids(size_t(rng() % 40));
        for (auto& id : ids) id = (rng() % 2) ? any(rng) : low(rng);  // low ids: single bytes
        check_stream(*tok, ids);
    }
}

TEST(TokenizerStream, FlushEmitsReplacementForTruncatedCharacter) {
    DSV4_REQUIRE_TOKENIZER(tok, "deepseek_v4");
    // The first two byte tokens of a 3-byte character, then end of stream.
    std::vector<int32_t> whole = tok->encode("漢");
    std::string bytes;
    for (int32_t id : whole) bytes += tok->token_bytes(id);
    ASSERT_EQ(bytes, "漢");
    dsv4::tok::ByteLevelAlphabet alphabet;
    dsv4::StreamDecoder dec(*tok);
    EXPECT_EQ(dec.push(tok->token_id(alphabet.encode_byte(uint8_t(bytes[0])))), "");
    EXPECT_EQ(dec.push(tok->token_id(alphabet.encode_byte(uint8_t(bytes[1])))), "");
    EXPECT_EQ(dec.pending(), 2u);
    EXPECT_EQ(dec.flush(), "\xEF\xBF\xBD");
    EXPECT_EQ(dec.push(tok->token_id("<think>")), "<think>");
}

// Model output may hold ids past the tokenizer (padded vocabularies): they add no text, as in
// HF's decode, where the batch decode of the same ids is an error (bad input).
TEST(TokenizerStream, IdsOutsideTheTokenizerAddNoText) {
    auto tok = dsv4::Tokenizer::from_file(std::string(DSV4_TEST_DATA) + "/dsv4-tiny-a-tok/tokenizer.json");
    const int32_t past = int32_t(tok.vocab_size()) + 59;
    ASSERT_FALSE(tok.contains(past));
    ASSERT_FALSE(tok.contains(-1));
    const auto ids = tok.encode("hello world");
    ASSERT_GE(ids.size(), 2u);
    ASSERT_TRUE(tok.contains(ids[0]));
    dsv4::StreamDecoder dec(tok);
    std::string text = dec.push(ids[0]);
    EXPECT_EQ(dec.push(past), "");
    EXPECT_EQ(dec.push(-1), "");
    for (size_t i = 1; i < ids.size(); ++i) text += dec.push(ids[i]);
    text += dec.flush();
    EXPECT_EQ(text, tok.decode(ids));
    EXPECT_EQ(text, "hello world");
    std::vector<int32_t> bad = {ids[0], past};
    EXPECT_THROW(tok.decode(bad), std::out_of_range);
}
