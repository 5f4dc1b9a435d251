// The OpenAI wire format of `dsv4 serve`: request validation (every error names the field at fault),
// and the JSON of replies, stream chunks and errors. No HTTP and no model here.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/sampler.h"

namespace dsv4::server {

// An error the client sees: HTTP status + {"error":{"message","type","param","code"}}.
class ApiError : public std::runtime_error {
public:
    ApiError(int status, std::string type, std::optional<std::string> param, std::string code, const std::string& message)
        : std::runtime_error(message), status_(status), type_(std::move(type)), param_(std::move(param)),
          code_(std::move(code)) {}
    int status() const noexcept { return status_; }
    const std::string& type() const noexcept { return type_; }
    const std::optional<std::string>& param() const noexcept { return param_; }
    const std::string& code() const noexcept { return code_; }
    nlohmann::ordered_json body() const;

private:
    int status_;
    std::string type_;
    std::optional<std::string> param_;
    std::string code_;
};

// 400 invalid_request_error naming `param`.
ApiError invalid_param(const std::string& param, const std::string& message, const std::string& code = "invalid_value");

enum class Endpoint { chat, completion };

// What the scheduler needs to know about one generation, besides the prompt ids.
struct GenerationParams {
    std::optional<int64_t> max_tokens;  // none: up to the context limit
    std::string max_tokens_field = "max_tokens";  // which field set it (for context errors)
    SamplerParams sampler;
    std::optional<int64_t> top_k;
    std::vector<std::string> stop;
    bool ignore_eos = false;  // extension (as vLLM): generate max_tokens tokens, for benchmarks
    bool stream = false;
    bool include_usage = false;
};

struct ParsedRequest {
    Endpoint endpoint = Endpoint::chat;
    std::string model;
    GenerationParams params;
    // chat: the rendered prompt text (starts with BOS); completion: the prompt text, or ids in prompt_ids.
    std::string prompt_text;
    std::optional<std::vector<int32_t>> prompt_ids;
    std::string prompt_field = "messages";  // the field a context overflow is blamed on
    bool thinking = false;                  // chat: parse the output in thinking mode
    bool has_tools = false;
};

// Parses a request body (throws ApiError 400 with code "invalid_json" for bad JSON).
nlohmann::ordered_json parse_body(const std::string& body);

// Validate a /v1/chat/completions body and render its prompt with the chat code (src/chat).
// `default_seed` is used when the request has no seed (sampling only).
ParsedRequest parse_chat_request(const nlohmann::ordered_json& body, uint64_t default_seed);
// Validate a /v1/completions body.
ParsedRequest parse_completion_request(const nlohmann::ordered_json& body, uint64_t default_seed);

struct Usage {
    int64_t prompt_tokens = 0, completion_tokens = 0;
    nlohmann::ordered_json json() const;
};

// {"object":"list","data":[{"id":model,"object":"model","created":..,"owned_by":"dsv4"}]}
nlohmann::ordered_json models_list(const std::string& model_id, int64_t created, int64_t max_context);

// The parts every reply and chunk repeats.
struct ReplyMeta {
    std::string id;  // "chatcmpl-..." / "cmpl-..."
    int64_t created = 0;
    std::string model;
};

// finish_reason as OpenAI spells it; null while a stream goes on.
using Finish = std::optional<std::string>;

// /v1/chat/completions reply; `message` is chat::to_openai_message()'s object.
nlohmann::ordered_json chat_completion(const ReplyMeta& m, nlohmann::ordered_json message, const std::string& finish,
                                       const Usage& usage);
// One chat.completion.chunk with one choice; `with_usage_null` adds "usage": null (stream_options.include_usage).
nlohmann::ordered_json chat_chunk(const ReplyMeta& m, nlohmann::ordered_json delta, const Finish& finish,
                                  bool with_usage_null);
// /v1/completions reply and chunk.
nlohmann::ordered_json text_completion(const ReplyMeta& m, const std::string& text, const std::string& finish,
                                       const Usage& usage);
nlohmann::ordered_json text_chunk(const ReplyMeta& m, const std::string& text, const Finish& finish,
                                  bool with_usage_null);
// The last chunk of a stream with include_usage: no choices, the usage.
nlohmann::ordered_json usage_chunk(const ReplyMeta& m, bool chat, const Usage& usage);

// Dumps JSON for the wire: compact, invalid UTF-8 replaced.
std::string dump(const nlohmann::ordered_json& j);

}  // namespace dsv4::server
