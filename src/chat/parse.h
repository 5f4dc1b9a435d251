// From the model's output back to an OpenAI assistant message (docs/dsv4-chat.md §4), whole or streaming.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/format.h"

namespace dsv4::chat {

struct ToolCall {
    std::string id;         // id_prefix + its index in the message ("call_0", ...): deterministic
    std::string name;
    std::string arguments;  // a JSON object as text
};

struct AssistantMessage {
    std::string content;
    std::optional<std::string> reasoning_content;  // null in chat mode
    std::vector<ToolCall> tool_calls;
    // Set when the output broke the grammar: everything generated is then in `content` (§4); log it.
    std::optional<std::string> malformed;
};

// Never throws on model output. `text` is the generated text, with or without the final EOS. Tool-call ids are
// id_prefix + index (a server may pass a per-response prefix to keep them unique in a conversation).
AssistantMessage parse_completion(std::string_view text, bool thinking, const ChatFormat& format = ChatFormat::v4(),
                                  std::string_view id_prefix = "call_");

// {"role":"assistant","content":...,"reasoning_content":...,"tool_calls":[{"id","type","function":{...}}]}
nlohmann::ordered_json to_openai_message(const AssistantMessage& msg);

enum class DeltaKind { reasoning, content, tool_call };

struct StreamDelta {
    DeltaKind kind = DeltaKind::content;
    std::string text;    // reasoning or content text (complete UTF-8 characters)
    ToolCall tool_call;  // kind == tool_call
    size_t index = 0;    // tool_call: its position in the message's tool_calls
};

// One streaming chunk's delta object: {"reasoning_content": ...} / {"content": ...} /
// {"tool_calls":[{"index":i,"id":...,"type":"function","function":{...}}]}.
nlohmann::ordered_json to_openai_delta(const StreamDelta& delta);

// Incremental parser: feed() text as it is generated (any split, even inside a UTF-8 character or a marker),
// then finish(). Deltas never contain a partial marker or a partial UTF-8 character: text that might be the
// start of `</think>`, EOS or "\n\n<｜DSML｜tool_calls" is held until decided; a tool-call block is held until
// it is complete and then sent whole. For well-formed output the deltas add up to parse_completion()'s
// message. Malformed output is passed on as content from the point where it breaks the grammar (what was
// already sent stays sent); malformed() then says why.
class StreamParser {
public:
    explicit StreamParser(bool thinking, const ChatFormat& format = ChatFormat::v4(), std::string_view id_prefix = "call_");
    std::vector<StreamDelta> feed(std::string_view text);
    std::vector<StreamDelta> finish();
    // EOS was seen: the message is complete.
    bool done() const { return state_ == State::done; }
    const std::optional<std::string>& malformed() const { return malformed_; }

private:
    enum class State { reasoning, content, tool_block, after_block, raw, done };
    std::vector<StreamDelta> drain(bool final);
    void emit_text(std::vector<StreamDelta>& out, DeltaKind kind, std::string_view text);
    void set_malformed(std::string why);

    const ChatFormat* fmt_;
    std::string id_prefix_;
    std::string think_close_, eos_, tool_calls_start_, tool_calls_close_;
    State state_;
    std::string buf_;        // received, not yet sent
    size_t close_scan_ = 0;  // tool_block: where to look for the closing tag next
    size_t n_calls_ = 0;
    std::optional<std::string> malformed_;
};

}  // namespace dsv4::chat
