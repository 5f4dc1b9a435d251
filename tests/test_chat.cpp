// The DeepSeek-V4 chat format (docs/dsv4-chat.md): goldens, rules, streaming, bad input, malformed output.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "chat/format.h"
#include "chat/parse.h"
#include "chat/pyjson.h"
#include "chat/request.h"
#include "chat_test_util.h"

using namespace dsv4::chat;
using json = nlohmann::ordered_json;
using dsv4::test::chat_goldens;

namespace {

std::string render(const std::string& request_json) { return render_prompt(json::parse(request_json)).text; }

const std::string kBos = "<｜begin▁of▁sentence｜>";
const std::string kEos = "<｜end▁of▁sentence｜>";

bool thinking_of(const json& request) { return read_chat_options(request).thinking; }

void expect_message_equals(const AssistantMessage& got, const json& expected) {
    EXPECT_EQ(got.content, expected["content"].get<std::string>());
    if (expected["reasoning_content"].is_null()) {
        EXPECT_FALSE(got.reasoning_content.has_value());
    } else {
        ASSERT_TRUE(got.reasoning_content.has_value());
        EXPECT_EQ(*got.reasoning_content, expected["reasoning_content"].get<std::string>());
    }
    ASSERT_EQ(got.tool_calls.size(), expected["tool_calls"].size());
    for (size_t i = 0; i < got.tool_calls.size(); ++i) {
        EXPECT_EQ(got.tool_calls[i].name, expected["tool_calls"][i]["name"].get<std::string>());
        EXPECT_EQ(json::parse(got.tool_calls[i].arguments), expected["tool_calls"][i]["arguments"]);
    }
}

bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (len == 0 || i + len > s.size()) return false;
        for (size_t k = 1; k < len; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        i += len;
    }
    return true;
}

// Splits text into pieces: every `step` bytes, or (step == 0) every UTF-8 code point.
std::vector<std::string> split(const std::string& text, size_t step) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i < text.size()) {
        size_t n = step;
        if (step == 0) {
            const auto c = static_cast<unsigned char>(text[i]);
            n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : 4;
        }
        parts.push_back(text.substr(i, n));
        i += n;
    }
    return parts;
}

// Streams the pieces and adds the deltas up into a message.
AssistantMessage stream(const std::vector<std::string>& pieces, bool thinking) {
    StreamParser sp(thinking);
    AssistantMessage m;
    if (thinking) m.reasoning_content.emplace();
    auto take = [&](std::vector<StreamDelta> ds) {
        for (auto& d : ds) {
            if (d.kind != DeltaKind::tool_call) {
                EXPECT_FALSE(d.text.empty());
                EXPECT_TRUE(valid_utf8(d.text)) << "delta splits a UTF-8 character";
            }
            switch (d.kind) {
                case DeltaKind::reasoning: *m.reasoning_content += d.text; break;
                case DeltaKind::content: m.content += d.text; break;
                case DeltaKind::tool_call:
                    EXPECT_EQ(d.index, m.tool_calls.size());
                    m.tool_calls.push_back(d.tool_call);
                    break;
            }
        }
    };
    for (const auto& p : pieces) take(sp.feed(p));
    take(sp.finish());
    m.malformed = sp.malformed();
    return m;
}

}  // namespace

// ---- goldens (§6) ----

TEST(ChatGolden, EveryTemplateRendersByteExact) {
    const auto& g = chat_goldens();
    ASSERT_EQ(g["templates"].size(), 11u);
    for (const auto& t : g["templates"]) {
        SCOPED_TRACE(t["name"].get<std::string>());
        const auto r = render_prompt(t["request"]);
        EXPECT_EQ(r.text, t["prompt"].get<std::string>());
    }
}

TEST(ChatGolden, EveryCompletionParses) {
    const auto& g = chat_goldens();
    ASSERT_EQ(g["parses"].size(), 4u);
    for (const auto& p : g["parses"]) {
        SCOPED_TRACE(p["name"].get<std::string>());
        const auto msg = parse_completion(p["completion"].get<std::string>(), thinking_of(p["request"]));
        EXPECT_FALSE(msg.malformed.has_value());
        expect_message_equals(msg, p["expected"]);
    }
}

TEST(ChatGolden, StreamingByCodePointByteAndChunkAddsUpToTheWholeParse) {
    for (const auto& p : chat_goldens()["parses"]) {
        const std::string text = p["completion"].get<std::string>();
        const bool thinking = thinking_of(p["request"]);
        const auto whole = parse_completion(text, thinking);
        for (size_t step : {0, 1, 2, 3, 5, 7, 64}) {
            SCOPED_TRACE(p["name"].get<std::string>() + " step " + std::to_string(step));
            const auto streamed = stream(split(text, step), thinking);
            EXPECT_FALSE(streamed.malformed.has_value());
            expect_message_equals(streamed, p["expected"]);
            EXPECT_EQ(to_openai_message(streamed), to_openai_message(whole));
        }
    }
}

TEST(ChatGolden, AssistantTurnsOfTheTemplatesParseBack) {
    // Every assistant turn written by the renderer parses back to its message (round trip).
    const auto& t = chat_goldens()["templates"];
    for (const auto& tc : t) {
        const auto& msgs = tc["request"]["messages"];
        const bool thinking = thinking_of(tc["request"]);
        const std::string prompt = tc["prompt"].get<std::string>();
        const bool has_tools = tc["request"].contains("tools");
        if (!thinking || !has_tools) continue;  // reasoning is only written back in these cases
        size_t from = 0;
        for (const auto& m : msgs) {
            if (m["role"] != "assistant") continue;
            const std::string open = "<｜Assistant｜><think>";
            from = prompt.find(open, from);
            ASSERT_NE(from, std::string::npos);
            from += open.size();
            const size_t end = prompt.find(kEos, from) + kEos.size();
            const auto parsed = parse_completion(prompt.substr(from, end - from), true);
            EXPECT_FALSE(parsed.malformed);
            EXPECT_EQ(parsed.reasoning_content, m["reasoning_content"].get<std::string>());
            ASSERT_EQ(parsed.tool_calls.size(), m["tool_calls"].size());
            for (size_t i = 0; i < parsed.tool_calls.size(); ++i)
                EXPECT_EQ(json::parse(parsed.tool_calls[i].arguments),
                          json::parse(m["tool_calls"][i]["function"]["arguments"].get<std::string>()));
        }
    }
}

// ---- the format table (§5) ----

TEST(ChatFormat, V4IsTheFirstRowAndDerivesItsTags) {
    const auto& f = ChatFormat::v4();
    EXPECT_EQ(&ChatFormat::find("deepseek-v4"), &f);
    EXPECT_EQ(f.encoder_sha256, chat_goldens()["encoder_sha256"].get<std::string>());
    EXPECT_EQ(f.tool_calls_start(), "\n\n<｜DSML｜tool_calls");
    EXPECT_EQ(f.tag_close("invoke"), "</｜DSML｜invoke>");
    EXPECT_EQ(f.bos, "\xEF\xBD\x9C" == std::string_view("｜") ? kBos : "");
    EXPECT_TRUE(f.effort_max.ends_with(".\n\n"));
    EXPECT_THROW(ChatFormat::find("deepseek-v9"), std::invalid_argument);
}

// ---- JSON as Python writes it (§3.10) ----

TEST(ChatJson, WritesLikePythonJsonDumps) {
    EXPECT_EQ(py_dumps(json::parse(R"({"b": [1, 2.5, true, null], "a": {"x": "y"}})")),
              R"({"b": [1, 2.5, true, null], "a": {"x": "y"}})");
    EXPECT_EQ(py_dumps(json::parse(R"({"k":"Zürich 🐙 \u00e9","q":"a\"b\\c\n\t\r\b\f\u0001\u007f"})")),
              "{\"k\": \"Zürich 🐙 é\", \"q\": \"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\x7f\"}");
    EXPECT_EQ(py_dumps(json::parse("[]")), "[]");
    EXPECT_EQ(py_dumps(json::parse("{}")), "{}");
    EXPECT_EQ(py_dumps(json::parse("[-3e-2, 1e-05, 1E5, 3.0, 0.1, 1e16, 1e15, 1.5e300, -0.0, 0.0001, 123456789.125]")),
              "[-0.03, 1e-05, 100000.0, 3.0, 0.1, 1e+16, 1000000000000000.0, 1.5e+300, -0.0, 0.0001, 123456789.125]");
    EXPECT_EQ(py_dumps(json::parse("[18446744073709551615, -9223372036854775808]")),
              "[18446744073709551615, -9223372036854775808]");
    EXPECT_EQ(py_float_repr(1.0 / 3), "0.3333333333333333");
    EXPECT_EQ(py_float_repr(5e-324), "5e-324");
    EXPECT_EQ(py_float_repr(1.7976931348623157e308), "1.7976931348623157e+308");
    EXPECT_EQ(py_float_repr(0.1 + 0.2), "0.30000000000000004");
}

// ---- request mapping (§2) and rendering rules (§3) ----

TEST(ChatRender, ThinkingSwitches) {
    const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
    const std::string on = kBos + "<｜User｜>hi<｜Assistant｜><think>";
    const std::string off = kBos + "<｜User｜>hi<｜Assistant｜></think>";
    EXPECT_EQ(render("{" + msgs + "}"), on);
    EXPECT_EQ(render(R"({"thinking":{"type":"enabled"},)" + msgs + "}"), on);
    EXPECT_EQ(render(R"({"thinking":{"type":"disabled"},)" + msgs + "}"), off);
    EXPECT_EQ(render(R"({"reasoning_effort":"none",)" + msgs + "}"), off);
    EXPECT_EQ(render(R"({"chat_template_kwargs":{"thinking":false},)" + msgs + "}"), off);
    EXPECT_EQ(render(R"({"chat_template_kwargs":{"thinking":true},)" + msgs + "}"), on);
    EXPECT_FALSE(render_prompt(json::parse(R"({"thinking":{"type":"disabled"},)" + msgs + "}")).thinking);
}

TEST(ChatRender, EffortLevels) {
    const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
    const std::string plain = kBos + "<｜User｜>hi<｜Assistant｜><think>";
    const std::string maxed = kBos + std::string(ChatFormat::v4().effort_max) + "<｜User｜>hi<｜Assistant｜><think>";
    for (const char* e : {"minimal", "low", "medium", "high", "xhigh"})
        EXPECT_EQ(render(std::string(R"({"reasoning_effort":")") + e + "\"," + msgs + "}"), plain) << e;
    EXPECT_EQ(render(R"({"reasoning_effort":"max",)" + msgs + "}"), maxed);
    EXPECT_EQ(render(R"({"reasoning_effort":"ultra",)" + msgs + "}"), maxed);
    // max with thinking off adds nothing
    EXPECT_EQ(render(R"({"reasoning_effort":"max","thinking":{"type":"disabled"},)" + msgs + "}"),
              kBos + "<｜User｜>hi<｜Assistant｜></think>");
}

TEST(ChatRender, SeveralSystemMessagesConcatenateWhereTheyStand) {
    EXPECT_EQ(render(R"({"messages":[{"role":"system","content":"A."},{"role":"system","content":"B."},
                        {"role":"user","content":"u"},{"role":"system","content":"C."},{"role":"user","content":"v"}]})"),
              kBos + "A.B.<｜User｜>uC.<｜User｜>v<｜Assistant｜><think>");
}

TEST(ChatRender, ToolsGoToTheFirstSystemMessage) {
    const std::string tools = R"("tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"x":{"type":"number","minimum":-3e-2}}}}}])";
    const std::string got = render(R"({"thinking":{"type":"disabled"},)" + tools +
                                   R"(,"messages":[{"role":"system","content":"S"},{"role":"user","content":"u"}]})");
    std::string block(ChatFormat::v4().tools_template);
    block.replace(block.find("{tool_schemas}"), 14,
                  R"({"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "number", "minimum": -0.03}}}})");
    EXPECT_EQ(got, kBos + "S\n\n" + block + "<｜User｜>u<｜Assistant｜></think>");
    // no system message: one with empty content is put first
    EXPECT_EQ(render(R"({"thinking":{"type":"disabled"},)" + tools + R"(,"messages":[{"role":"user","content":"u"}]})"),
              kBos + "\n\n" + block + "<｜User｜>u<｜Assistant｜></think>");
    // an empty tools array is no tools
    EXPECT_EQ(render(R"({"tools":[],"messages":[{"role":"user","content":"u"}]})"),
              kBos + "<｜User｜>u<｜Assistant｜><think>");
}

TEST(ChatRender, ToolResultsFollowCallOrderAndMergeWithUserText) {
    const std::string req = R"({"thinking":{"type":"disabled"},"messages":[
        {"role":"user","content":"go"},
        {"role":"assistant","content":null,"tool_calls":[
            {"id":"x","type":"function","function":{"name":"a","arguments":"{}"}},
            {"id":"y","type":"function","function":{"name":"b","arguments":"{\"k\": [1, 2]}"}},
            {"id":"z","type":"function","function":{"name":"c","arguments":"{\"s\": \"line1\\nline2\"}"}}]},
        {"role":"tool","tool_call_id":"z","content":"Z"},
        {"role":"tool","tool_call_id":"x","content":"X"},
        {"role":"tool","tool_call_id":"y","content":"Y"},
        {"role":"user","content":"and?"}]})";
    EXPECT_EQ(render(req),
              kBos + "<｜User｜>go<｜Assistant｜></think>\n\n<｜DSML｜tool_calls>\n"
                     "<｜DSML｜invoke name=\"a\">\n\n</｜DSML｜invoke>\n"
                     "<｜DSML｜invoke name=\"b\">\n<｜DSML｜parameter name=\"k\" string=\"false\">[1, 2]</｜DSML｜parameter>\n</｜DSML｜invoke>\n"
                     "<｜DSML｜invoke name=\"c\">\n<｜DSML｜parameter name=\"s\" string=\"true\">line1\nline2</｜DSML｜parameter>\n</｜DSML｜invoke>\n"
                     "</｜DSML｜tool_calls>" + kEos +
                     "<｜User｜><tool_result>X</tool_result>\n\n<tool_result>Y</tool_result>\n\n<tool_result>Z</tool_result>\n\nand?"
                     "<｜Assistant｜></think>");
}

TEST(ChatRender, ArgumentsAsObjectEqualArgumentsAsText) {
    auto req = [](const std::string& args) {
        return R"({"messages":[{"role":"user","content":"u"},{"role":"assistant","content":"c","tool_calls":[
            {"id":"1","type":"function","function":{"name":"f","arguments":)" + args + R"(}}]},
            {"role":"tool","tool_call_id":"1","content":"r"}]})";
    };
    const std::string as_text = render(req(R"("{\"q\": \"é\", \"n\": 1.50, \"o\": {\"z\": 1, \"a\": [true, null]}}")"));
    EXPECT_EQ(render(req(R"({"q": "é", "n": 1.50, "o": {"z": 1, "a": [true, null]}})")), as_text);
    EXPECT_NE(as_text.find("<｜DSML｜parameter name=\"n\" string=\"false\">1.5</｜DSML｜parameter>\n"
                           "<｜DSML｜parameter name=\"o\" string=\"false\">{\"z\": 1, \"a\": [true, null]}</｜DSML｜parameter>"),
              std::string::npos);
    // arguments that are not a JSON object become one string parameter named "arguments"
    const std::string raw = render(req(R"("not json")"));
    EXPECT_NE(raw.find("<｜DSML｜parameter name=\"arguments\" string=\"true\">not json</｜DSML｜parameter>"), std::string::npos);
    const std::string arr = render(req(R"([1, 2])"));
    EXPECT_NE(arr.find("<｜DSML｜parameter name=\"arguments\" string=\"true\">[1, 2]</｜DSML｜parameter>"), std::string::npos);
}

TEST(ChatRender, ReasoningKeptOrDropped) {
    const std::string history = R"("messages":[{"role":"user","content":"q1"},
        {"role":"assistant","reasoning_content":"R1","content":"A1"},{"role":"user","content":"q2"},
        {"role":"assistant","reasoning_content":"R2","content":"A2"}])";
    // thinking, no tools: reasoning only after the last user turn
    EXPECT_EQ(render("{" + history + "}"),
              kBos + "<｜User｜>q1<｜Assistant｜></think>A1" + kEos + "<｜User｜>q2<｜Assistant｜><think>R2</think>A2" + kEos);
    // chat: never
    EXPECT_EQ(render(R"({"thinking":{"type":"disabled"},)" + history + "}"),
              kBos + "<｜User｜>q1<｜Assistant｜></think>A1" + kEos + "<｜User｜>q2<｜Assistant｜></think>A2" + kEos);
    // tools anywhere: every turn keeps its reasoning and opens with <think>
    const std::string with_tools =
        render(R"({"tools":[{"type":"function","function":{"name":"f"}}],)" + history + "}");
    EXPECT_TRUE(with_tools.ends_with("<｜User｜>q1<｜Assistant｜><think>R1</think>A1" + kEos +
                                     "<｜User｜>q2<｜Assistant｜><think>R2</think>A2" + kEos));
}

TEST(ChatRender, ContentPartsAndNulls) {
    EXPECT_EQ(render(R"({"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
                                     {"role":"assistant","content":null},{"role":"user","content":"c"}]})"),
              kBos + "<｜User｜>ab<｜Assistant｜></think>" + kEos + "<｜User｜>c<｜Assistant｜><think>");
}

// ---- bad input: RequestError naming the field (§2) ----

namespace {
void expect_request_error(const std::string& request, const std::string& field, const std::string& what) {
    try {
        render_prompt(json::parse(request));
        ADD_FAILURE() << "no error for " << request;
    } catch (const RequestError& e) {
        EXPECT_EQ(e.field(), field);
        EXPECT_EQ(std::string(e.what()), what);
    }
}
}  // namespace

TEST(ChatBadInput, EachErrorNamesItsField) {
    expect_request_error(R"({"messages":[{"role":"wizard","content":"x"}]})", "messages[0].role",
                         "messages[0].role: unknown role 'wizard' (expected system, user, assistant, tool or developer)");
    expect_request_error(R"({"messages":[{"content":"x"}]})", "messages[0].role", "messages[0].role: is required");
    expect_request_error(R"({"messages":"hello"})", "messages", "messages: must be an array of messages, got string");
    expect_request_error(R"({"model":"x"})", "messages", "messages: is required");
    expect_request_error(R"({"messages":[]})", "messages", "messages: must not be empty");
    expect_request_error(R"({"messages":[7]})", "messages[0]", "messages[0]: must be an object, got number");
    expect_request_error(R"({"tools":{"name":"f"},"messages":[{"role":"user","content":"x"}]})", "tools",
                         "tools: must be an array of tool objects, got object");
    expect_request_error(R"({"tools":[{"type":"function"}],"messages":[{"role":"user","content":"x"}]})",
                         "tools[0].function", "tools[0].function: must be an object");
    expect_request_error(R"({"messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"a"}]})",
                         "messages[1].content", "messages[1].content: is required");
    expect_request_error(R"({"messages":[{"role":"user","content":"x"},{"role":"tool","content":null}]})",
                         "messages[1].content", "messages[1].content: is required");
    expect_request_error(R"({"messages":[{"role":"user","content":42}]})", "messages[0].content",
                         "messages[0].content: must be a string or an array of text parts, got number");
    expect_request_error(R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"u"}}]}]})",
                         "messages[0].content[0].type",
                         "messages[0].content[0].type: unsupported content part type 'image_url' (only \"text\")");
    expect_request_error(R"({"messages":[{"role":"assistant","content":"x","tool_calls":{}}]})",
                         "messages[0].tool_calls", "messages[0].tool_calls: must be an array, got object");
    expect_request_error(R"({"messages":[{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f"}}]}]})",
                         "messages[0].tool_calls[0].function.arguments",
                         "messages[0].tool_calls[0].function.arguments: is required");
    expect_request_error(R"({"messages":[{"role":"assistant","tool_calls":[{"id":"a","function":{"arguments":"{}"}}]}]})",
                         "messages[0].tool_calls[0].function.name",
                         "messages[0].tool_calls[0].function.name: must be a string");
    expect_request_error(R"({"thinking":{"type":"maybe"},"messages":[{"role":"user","content":"x"}]})", "thinking.type",
                         "thinking.type: must be \"enabled\" or \"disabled\", got \"maybe\"");
    expect_request_error(R"({"reasoning_effort":3,"messages":[{"role":"user","content":"x"}]})", "reasoning_effort",
                         "reasoning_effort: must be a string, got number");
    expect_request_error(R"({"chat_template_kwargs":{"thinking":"no"},"messages":[{"role":"user","content":"x"}]})",
                         "chat_template_kwargs.thinking", "chat_template_kwargs.thinking: must be a boolean");
    expect_request_error(R"([1])", "request", "request: must be a JSON object, got array");
}

// ---- parsing: details and malformed output (§4) ----

TEST(ChatParse, ChatModeAndMissingEos) {
    auto m = parse_completion("Hello", false);
    EXPECT_EQ(m.content, "Hello");
    EXPECT_FALSE(m.reasoning_content);
    EXPECT_FALSE(m.malformed);
    m = parse_completion("Hi" + kEos + "\n", false);  // a file's final newline after EOS is ignored
    EXPECT_EQ(m.content, "Hi");
    EXPECT_FALSE(m.malformed);
    m = parse_completion("R</think>C", true);
    EXPECT_EQ(m.reasoning_content, "R");
    EXPECT_EQ(m.content, "C");
}

TEST(ChatParse, MultiLineAndUnicodeParameters) {
    const std::string text =
        "</think>\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"write\">\n"
        "<｜DSML｜parameter name=\"path\" string=\"true\">/tmp/ü.txt</｜DSML｜parameter>\n"
        "<｜DSML｜parameter name=\"body\" string=\"true\">line 1\n  \"line\" 2\\n\n</｜DSML｜parameter>\n"
        "<｜DSML｜parameter name=\"opts\" string=\"false\">{\n  \"mode\": 420,\n  \"f\": -0.5\n}</｜DSML｜parameter>\n"
        "</｜DSML｜invoke>\n</｜DSML｜tool_calls>" + kEos;
    const auto m = parse_completion(text, true);
    ASSERT_FALSE(m.malformed) << *m.malformed;
    EXPECT_EQ(m.reasoning_content, "");
    ASSERT_EQ(m.tool_calls.size(), 1u);
    EXPECT_EQ(m.tool_calls[0].id, "call_0");
    EXPECT_EQ(m.tool_calls[0].arguments,
              "{\"path\": \"/tmp/ü.txt\", \"body\": \"line 1\\n  \\\"line\\\" 2\\\\n\\n\", "
              "\"opts\": {\n  \"mode\": 420,\n  \"f\": -0.5\n}}");
    EXPECT_EQ(json::parse(m.tool_calls[0].arguments)["body"], "line 1\n  \"line\" 2\\n\n");
    for (size_t step : {0, 1, 4})
        EXPECT_EQ(to_openai_message(stream(split(text, step), true)), to_openai_message(m));
}

TEST(ChatParse, MalformedOutputBecomesContent) {
    struct Case {
        std::string text;
        bool thinking;
        std::string content;
    };
    const std::string block_open = "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n";
    const std::vector<Case> cases = {
        {"no close tag" + kEos, true, "no close tag"},
        {"R</think>C" + kEos + "after", true, "R</think>C" + kEos + "after"},
        {"C" + block_open + "<｜DSML｜parameter name=\"a\" string=\"false\">{bad json</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>" + kEos,
         false, "C" + block_open + "<｜DSML｜parameter name=\"a\" string=\"false\">{bad json</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>"},
        {"C" + block_open + "<｜DSML｜parameter name=\"a\" string=\"true\">x", false,
         "C" + block_open + "<｜DSML｜parameter name=\"a\" string=\"true\">x"},  // truncated block
        {"C" + block_open + "</｜DSML｜invoke>\n</｜DSML｜tool_calls>trailing" + kEos, false,
         "C" + block_open + "</｜DSML｜invoke>\n</｜DSML｜tool_calls>trailing"},
        {"C" + block_open + "<｜DSML｜parameter name=\"a\" string=\"true\">1</｜DSML｜parameter>\n"
                            "<｜DSML｜parameter name=\"a\" string=\"true\">2</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>", false,
         "C" + block_open + "<｜DSML｜parameter name=\"a\" string=\"true\">1</｜DSML｜parameter>\n"
                            "<｜DSML｜parameter name=\"a\" string=\"true\">2</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>"},
        {"R" + block_open + "</｜DSML｜invoke>\n</｜DSML｜tool_calls></think>x", true,
         "R" + block_open + "</｜DSML｜invoke>\n</｜DSML｜tool_calls></think>x"},
        {"A <think> B", false, "A <think> B"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        AssistantMessage m;
        ASSERT_NO_THROW(m = parse_completion(c.text, c.thinking));
        EXPECT_TRUE(m.malformed.has_value());
        EXPECT_EQ(m.content, c.content);
        EXPECT_FALSE(m.reasoning_content);
        EXPECT_TRUE(m.tool_calls.empty());
        ASSERT_NO_THROW(stream(split(c.text, 1), c.thinking));  // the stream never throws either
    }
}

// ---- streaming details (§4) ----

TEST(ChatStream, HoldsBackWhatMightBeAMarker) {
    StreamParser sp(true);
    auto d = sp.feed("abc</thi");
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].kind, DeltaKind::reasoning);
    EXPECT_EQ(d[0].text, "abc");
    d = sp.feed("nk>Hi\n\n<｜DS");
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].kind, DeltaKind::content);
    EXPECT_EQ(d[0].text, "Hi");
    d = sp.feed("X");  // not a marker after all
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].text, "\n\n<｜DSX");
    d = sp.feed("<｜end▁of");
    EXPECT_TRUE(d.empty());
    d = sp.feed("▁sentence｜>");
    EXPECT_TRUE(d.empty());
    EXPECT_TRUE(sp.done());
    EXPECT_TRUE(sp.finish().empty());
    EXPECT_FALSE(sp.malformed());
}

TEST(ChatStream, ToolBlockIsSentWholeWhenComplete) {
    const std::string block = "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n"
                              "<｜DSML｜parameter name=\"s\" string=\"true\">has </｜DSML｜tool_calls> inside</｜DSML｜parameter>\n"
                              "</｜DSML｜invoke>\n</｜DSML｜tool_calls>";
    StreamParser sp(false);
    std::vector<StreamDelta> all;
    for (const auto& piece : split("ok" + block + kEos, 1)) {
        auto d = sp.feed(piece);
        for (auto& x : d) all.push_back(x);
    }
    for (auto& x : sp.finish()) all.push_back(x);
    ASSERT_EQ(all.size(), 3u);  // "o", "k", then the call
    EXPECT_EQ(all[0].text + all[1].text, "ok");
    ASSERT_EQ(all[2].kind, DeltaKind::tool_call);
    EXPECT_EQ(all[2].tool_call.arguments, R"({"s": "has </｜DSML｜tool_calls> inside"})");
    EXPECT_EQ(to_openai_delta(all[2]).dump(),
              R"({"tool_calls":[{"index":0,"id":"call_0","type":"function","function":{"name":"f","arguments":"{\"s\": \"has </｜DSML｜tool_calls> inside\"}"}}]})");
    EXPECT_EQ(to_openai_delta(all[0]).dump(), R"({"content":"o"})");
    // fed whole, the content comes as one delta
    StreamParser whole(false);
    auto d = whole.feed("ok" + block + kEos);
    ASSERT_EQ(d.size(), 2u);
    EXPECT_EQ(d[0].text, "ok");
}

TEST(ChatStream, NeverSplitsAUtf8Character) {
    const std::string text = "思考🐙</think>答案 é🐙" + kEos;
    const auto m = stream(split(text, 1), true);
    EXPECT_EQ(m.reasoning_content, "思考🐙");
    EXPECT_EQ(m.content, "答案 é🐙");
}

TEST(ChatParse, ToolCallIdsTakeAPrefix) {
    const std::string text = "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"a\">\n</｜DSML｜invoke>\n"
                             "<｜DSML｜invoke name=\"b\">\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>" + kEos;
    auto m = parse_completion(text, false);
    ASSERT_EQ(m.tool_calls.size(), 2u);
    EXPECT_EQ(m.tool_calls[1].id, "call_1");
    EXPECT_EQ(m.tool_calls[1].arguments, "{}");
    m = parse_completion(text, false, ChatFormat::v4(), "chatcmpl-7-");
    EXPECT_EQ(m.tool_calls[0].id, "chatcmpl-7-0");
}

TEST(ChatBadInput, InvalidJsonBody) {
    try {
        parse_request("{\"messages\": [");
        ADD_FAILURE();
    } catch (const RequestError& e) {
        EXPECT_EQ(e.field(), "request");
        EXPECT_TRUE(std::string(e.what()).starts_with("request: invalid JSON: ")) << e.what();
    }
    EXPECT_EQ(parse_request(R"({"b":1,"a":2})").begin().key(), "b");  // order kept
}
