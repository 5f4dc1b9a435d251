// dsv4 chat-template / chat-parse, run as a program over the goldens.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "chat/request.h"
#include "chat_test_util.h"
#include "tokenizer_test_util.h"

using json = nlohmann::ordered_json;
using dsv4::test::chat_goldens;
using dsv4::test::run_dsv4;
using dsv4::test::spit;
using dsv4::test::TempDir;

namespace {
std::string q(const std::filesystem::path& p) {  // shell-quoted (test paths hold no quote)
    std::string s = p.string();
    s.insert(s.begin(), '\'');
    s.push_back('\'');
    return s;
}
size_t count_lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }
}  // namespace

TEST(ChatCli, TemplatePrintsEveryGoldenPromptExactly) {
    TempDir dir;
    for (const auto& t : chat_goldens()["templates"]) {
        SCOPED_TRACE(t["name"].get<std::string>());
        spit(dir.path() / "req.json", t["request"].dump(2));
        const auto r = run_dsv4(dir, "chat-template --request " + q(dir.path() / "req.json"));
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(r.out, t["prompt"].get<std::string>());
        EXPECT_EQ(r.err, "");
    }
}

TEST(ChatCli, ParsePrintsEveryGoldenMessage) {
    TempDir dir;
    for (const auto& p : chat_goldens()["parses"]) {
        SCOPED_TRACE(p["name"].get<std::string>());
        spit(dir.path() / "req.json", p["request"].dump());
        spit(dir.path() / "completion.txt", p["completion"].get<std::string>());
        for (const std::string extra : {"", " --stream"}) {
            const auto r = run_dsv4(dir, "chat-parse --request " + q(dir.path() / "req.json") + " --completion " +
                                             q(dir.path() / "completion.txt") + extra);
            ASSERT_EQ(r.exit_code, 0) << r.err;
            EXPECT_EQ(r.err, "");
            const auto& e = p["expected"];
            json msg;
            if (extra.empty()) {
                EXPECT_EQ(count_lines(r.out), 1u);
                msg = json::parse(r.out);
                EXPECT_EQ(msg["role"], "assistant");
                EXPECT_EQ(std::vector<std::string>({"role", "content", "reasoning_content", "tool_calls"}),
                          [&] { std::vector<std::string> k; for (auto& [key, v] : msg.items()) k.push_back(key); return k; }());
            } else {  // one delta object per line: add them up
                msg = {{"content", ""}, {"reasoning_content", e["reasoning_content"].is_null() ? json(nullptr) : json("")},
                       {"tool_calls", json::array()}};
                std::istringstream lines(r.out);
                for (std::string line; std::getline(lines, line);) {
                    const json d = json::parse(line);
                    ASSERT_EQ(d.size(), 1u);
                    if (d.contains("content")) msg["content"] = msg["content"].get<std::string>() + d["content"].get<std::string>();
                    if (d.contains("reasoning_content"))
                        msg["reasoning_content"] = msg["reasoning_content"].get<std::string>() + d["reasoning_content"].get<std::string>();
                    if (d.contains("tool_calls")) {
                        EXPECT_EQ(d["tool_calls"][0]["index"], msg["tool_calls"].size());
                        msg["tool_calls"].push_back(d["tool_calls"][0]);
                    }
                }
            }
            EXPECT_EQ(msg["content"], e["content"]);
            EXPECT_EQ(msg["reasoning_content"], e["reasoning_content"]);
            ASSERT_EQ(msg["tool_calls"].size(), e["tool_calls"].size());
            for (size_t i = 0; i < e["tool_calls"].size(); ++i) {
                const auto& c = msg["tool_calls"][i];
                EXPECT_EQ(c["id"], "call_" + std::to_string(i));
                EXPECT_EQ(c["type"], "function");
                EXPECT_EQ(c["function"]["name"], e["tool_calls"][i]["name"]);
                ASSERT_TRUE(c["function"]["arguments"].is_string());
                EXPECT_EQ(json::parse(c["function"]["arguments"].get<std::string>()), e["tool_calls"][i]["arguments"]);
            }
        }
    }
}

TEST(ChatCli, BadRequestIsOneLineNamingTheFieldAndNonZero) {
    TempDir dir;
    struct Case {
        std::string request, message;
    };
    const std::vector<Case> cases = {
        {R"({"messages":[{"role":"wizard","content":"x"}]})",
         "dsv4 chat-template: error: messages[0].role: unknown role 'wizard' (expected system, user, assistant, tool or developer)\n"},
        {R"({"messages":{"role":"user"}})", "dsv4 chat-template: error: messages: must be an array of messages, got object\n"},
        {R"({"tools":"f","messages":[{"role":"user","content":"x"}]})",
         "dsv4 chat-template: error: tools: must be an array of tool objects, got string\n"},
        {R"({"messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"1"}]})",
         "dsv4 chat-template: error: messages[1].content: is required\n"},
    };
    for (const auto& c : cases) {
        spit(dir.path() / "req.json", c.request);
        const auto r = run_dsv4(dir, "chat-template --request " + q(dir.path() / "req.json"));
        EXPECT_NE(r.exit_code, 0);
        EXPECT_EQ(r.out, "");
        EXPECT_EQ(r.err, c.message);
    }
    spit(dir.path() / "req.json", "{\"messages\": [");
    auto r = run_dsv4(dir, "chat-template --request " + q(dir.path() / "req.json"));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(count_lines(r.err), 1u);
    EXPECT_NE(r.err.find("is not valid JSON"), std::string::npos) << r.err;
    r = run_dsv4(dir, "chat-template --request " + q(dir.path() / "missing.json"));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("cannot read"), std::string::npos) << r.err;
    r = run_dsv4(dir, "chat-template");
    EXPECT_EQ(r.err, "dsv4 chat-template: error: missing required option --request\n");
    spit(dir.path() / "req.json", R"({"thinking":{"type":"sometimes"},"messages":[]})");
    spit(dir.path() / "c.txt", "x");
    r = run_dsv4(dir, "chat-parse --request " + q(dir.path() / "req.json") + " --completion " + q(dir.path() / "c.txt"));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.err, "dsv4 chat-parse: error: thinking.type: must be \"enabled\" or \"disabled\", got \"sometimes\"\n");
}

TEST(ChatCli, MalformedCompletionIsContentWithAWarning) {
    TempDir dir;
    spit(dir.path() / "req.json", R"({"messages":[]})");
    spit(dir.path() / "c.txt", "thinking that never closes<｜end▁of▁sentence｜>");
    const auto r = run_dsv4(dir, "chat-parse --request " + q(dir.path() / "req.json") + " --completion " + q(dir.path() / "c.txt"));
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, R"({"role":"assistant","content":"thinking that never closes","reasoning_content":null,"tool_calls":[]})" "\n");
    EXPECT_NE(r.err.find("malformed model output"), std::string::npos);
}

// --ids: the golden prompts' V4 token ids. Named Tokenizer* so ctest runs it after the `tokenizers` fixture
// (tools/fetch-tokenizers.sh); skips locally without the file, fails under CI.

TEST(TokenizerChatTemplate, IdsOfEveryGoldenPromptMatch) {
    DSV4_REQUIRE_TOKENIZER(tok, "deepseek_v4");
    for (const auto& t : chat_goldens()["templates"]) {
        SCOPED_TRACE(t["name"].get<std::string>());
        const auto ids = tok->encode(dsv4::chat::render_prompt(t["request"]).text);
        EXPECT_EQ(json(ids), t["ids"]);
    }
}

TEST(TokenizerChatTemplate, CliIdsOfGoldenPromptsMatch) {
    DSV4_REQUIRE_TOKENIZER(tok, "deepseek_v4");
    (void)tok;
    TempDir dir;
    for (const auto& t : chat_goldens()["templates"]) {
        const std::string name = t["name"].get<std::string>();
        // the program loads the tokenizer each run: two cases (with and without tools) are enough here
        if (name != "tool-round-trip-thinking" && name != "unicode-and-newlines") continue;
        SCOPED_TRACE(name);
        spit(dir.path() / "req.json", t["request"].dump());
        const auto r = run_dsv4(dir, "chat-template --request " + q(dir.path() / "req.json") + " --ids --tokenizer " +
                                         q(dsv4::test::tokenizer_path("deepseek_v4")));
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(count_lines(r.out), 1u);
        EXPECT_EQ(json::parse(r.out), t["ids"]);
    }
}

TEST(ChatCli, IdsNeedATokenizer) {
    TempDir dir;
    spit(dir.path() / "req.json", R"({"messages":[{"role":"user","content":"x"}]})");
    const auto r = run_dsv4(dir, "chat-template --request " + q(dir.path() / "req.json") + " --ids");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.err, "dsv4 chat-template: error: --ids needs --tokenizer FILE (the checkpoint's tokenizer.json)\n");
}
