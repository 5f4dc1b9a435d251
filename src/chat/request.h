// From an OpenAI chat-completions body to the DeepSeek-V4 prompt (docs/dsv4-chat.md §2, §3).
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "chat/format.h"

namespace dsv4::chat {

// Bad request input: the HTTP server maps it to a 400. `field` names the JSON path at fault,
// e.g. "messages[2].role"; what() is "FIELD: MESSAGE".
class RequestError : public std::invalid_argument {
public:
    RequestError(std::string field, const std::string& message)
        : std::invalid_argument(field + ": " + message), field_(std::move(field)), message_(message) {}
    const std::string& field() const noexcept { return field_; }
    const std::string& message() const noexcept { return message_; }

private:
    std::string field_;
    std::string message_;
};

enum class ReasoningEffort { normal, max };

// The request's sampling-independent chat options (§2).
struct ChatOptions {
    bool thinking = true;  // default on
    ReasoningEffort effort = ReasoningEffort::normal;
};

// A request body as ordered JSON (key order matters, §3.10); invalid JSON is a RequestError on "request".
nlohmann::ordered_json parse_request(std::string_view body);

// Reads `thinking.type`, `reasoning_effort` and `chat_template_kwargs.thinking`. Thinking is on unless one
// of them turns it off. Throws RequestError.
ChatOptions read_chat_options(const nlohmann::ordered_json& request);

struct RenderedPrompt {
    std::string text;     // the exact prompt, starting with BOS
    bool thinking = true; // parse the completion in this mode
    ReasoningEffort effort = ReasoningEffort::normal;
    bool has_tools = false;
    const ChatFormat* format = nullptr;
};

// Renders the request (an ordered_json so key order survives into the tool schemas and arguments, §3.10).
// Throws RequestError on bad input.
RenderedPrompt render_prompt(const nlohmann::ordered_json& request, const ChatFormat& format = ChatFormat::v4());

}  // namespace dsv4::chat
