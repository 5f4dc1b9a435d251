#include "server/openai.h"

#include <cmath>
#include <limits>

#include "chat/request.h"

namespace dsv4::server {

using nlohmann::ordered_json;

ordered_json ApiError::body() const {
    ordered_json e;
    e["message"] = what();
    e["type"] = type_;
    e["param"] = param_ ? ordered_json(*param_) : ordered_json(nullptr);
    e["code"] = code_;
    return ordered_json{{"error", e}};
}

ApiError invalid_param(const std::string& param, const std::string& message, const std::string& code) {
    return ApiError(400, "invalid_request_error", param, code, param + ": " + message);
}

std::string dump(const ordered_json& j) { return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace); }

ordered_json parse_body(const std::string& body) {
    ordered_json j;
    try {
        j = ordered_json::parse(body);
    } catch (const nlohmann::json::parse_error& e) {
        throw ApiError(400, "invalid_request_error", std::nullopt, "invalid_json",
                       std::string("the request body is not valid JSON: ") + e.what());
    }
    if (!j.is_object())
        throw ApiError(400, "invalid_request_error", std::nullopt, "invalid_json",
                       "the request body must be a JSON object, got " + std::string(j.type_name()));
    return j;
}

namespace {

std::string type_of(const ordered_json& v) {
    if (v.is_number_integer()) return "integer";
    if (v.is_number_float()) return "number";
    return v.type_name();
}

// Typed getters: absent or null -> nullopt; wrong type -> 400 naming the field.
std::optional<int64_t> get_int(const ordered_json& b, const char* f) {
    auto it = b.find(f);
    if (it == b.end() || it->is_null()) return std::nullopt;
    if (it->is_number_integer()) return it->get<int64_t>();
    if (it->is_number_float()) {  // 16.0 is accepted as 16
        double d = it->get<double>();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return int64_t(d);
    }
    throw invalid_param(f, "must be an integer, got " + type_of(*it), "invalid_type");
}

std::optional<double> get_number(const ordered_json& b, const char* f) {
    auto it = b.find(f);
    if (it == b.end() || it->is_null()) return std::nullopt;
    if (!it->is_number()) throw invalid_param(f, "must be a number, got " + type_of(*it), "invalid_type");
    return it->get<double>();
}

std::optional<bool> get_bool(const ordered_json& b, const char* f) {
    auto it = b.find(f);
    if (it == b.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) throw invalid_param(f, "must be a boolean, got " + type_of(*it), "invalid_type");
    return it->get<bool>();
}

std::optional<std::string> get_string(const ordered_json& b, const char* f) {
    auto it = b.find(f);
    if (it == b.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) throw invalid_param(f, "must be a string, got " + type_of(*it), "invalid_type");
    return it->get<std::string>();
}

const ordered_json* get_object(const ordered_json& b, const char* f) {
    auto it = b.find(f);
    if (it == b.end() || it->is_null()) return nullptr;
    if (!it->is_object()) throw invalid_param(f, "must be an object, got " + type_of(*it), "invalid_type");
    return &*it;
}

ApiError unsupported(const std::string& f, const std::string& what) {
    return invalid_param(f, what + " is not supported by this server", "unsupported_parameter");
}

void check_known(const ordered_json& body, std::initializer_list<const char*> known) {
    for (auto it = body.begin(); it != body.end(); ++it) {
        bool ok = false;
        for (const char* k : known) ok = ok || it.key() == k;
        if (!ok)
            throw ApiError(400, "invalid_request_error", it.key(), "unknown_parameter",
                           "Unrecognized request argument supplied: " + it.key());
    }
}

// The fields /v1/chat/completions and /v1/completions share.
void read_common(const ordered_json& b, ParsedRequest& r, uint64_t default_seed) {
    if (auto m = get_string(b, "model")) r.model = *m;
    GenerationParams& p = r.params;

    auto mt = get_int(b, "max_tokens");
    if (r.endpoint == Endpoint::chat) {
        if (auto mct = get_int(b, "max_completion_tokens")) {
            mt = mct;
            p.max_tokens_field = "max_completion_tokens";
        }
    }
    if (mt) {
        if (*mt < 1) throw invalid_param(p.max_tokens_field, "must be at least 1, got " + std::to_string(*mt));
        p.max_tokens = *mt;
    } else if (r.endpoint == Endpoint::completion) {
        p.max_tokens = 16;  // the OpenAI default for /v1/completions
    }

    const double temperature = get_number(b, "temperature").value_or(1.0);
    if (!(temperature >= 0 && temperature <= 2))
        throw invalid_param("temperature", "must be between 0 and 2, got " + std::to_string(temperature));
    const double top_p = get_number(b, "top_p").value_or(1.0);
    if (!(top_p >= 0 && top_p <= 1)) throw invalid_param("top_p", "must be between 0 and 1, got " + std::to_string(top_p));
    const int64_t top_k = get_int(b, "top_k").value_or(0);
    if (top_k < -1) throw invalid_param("top_k", "must be -1, 0 (off) or a positive integer");
    auto seed = get_int(b, "seed");
    p.sampler.greedy = temperature == 0 || top_p == 0 || top_k == 1;
    p.sampler.temperature = temperature;
    p.sampler.top_p = top_p == 0 ? 1.0 : top_p;
    p.sampler.top_k = top_k < 0 ? 0 : top_k;
    p.sampler.seed = seed ? uint64_t(*seed) : default_seed;

    if (auto it = b.find("stop"); it != b.end() && !it->is_null()) {
        if (it->is_string()) {
            p.stop.push_back(it->get<std::string>());
        } else if (it->is_array()) {
            if (it->size() > 16) throw invalid_param("stop", "at most 16 stop sequences are supported");
            for (size_t i = 0; i < it->size(); ++i) {
                if (!(*it)[i].is_string())
                    throw invalid_param("stop[" + std::to_string(i) + "]", "must be a string, got " + type_of((*it)[i]),
                                        "invalid_type");
                p.stop.push_back((*it)[i].get<std::string>());
            }
        } else {
            throw invalid_param("stop", "must be a string or an array of strings, got " + type_of(*it), "invalid_type");
        }
        for (size_t i = 0; i < p.stop.size(); ++i)
            if (p.stop[i].empty()) throw invalid_param(it->is_string() ? "stop" : "stop[" + std::to_string(i) + "]", "must not be empty");
    }

    p.stream = get_bool(b, "stream").value_or(false);
    if (auto so = get_object(b, "stream_options")) {
        if (!p.stream) throw invalid_param("stream_options", "is only allowed when stream is true");
        for (auto it = so->begin(); it != so->end(); ++it)
            if (it.key() != "include_usage")
                throw ApiError(400, "invalid_request_error", "stream_options." + it.key(), "unknown_parameter",
                               "Unrecognized request argument supplied: stream_options." + it.key());
        p.include_usage = get_bool(*so, "include_usage").value_or(false);
    }

    if (auto n = get_int(b, "n"); n && *n != 1) throw unsupported("n", "n other than 1");
    for (const char* f : {"frequency_penalty", "presence_penalty"})
        if (auto v = get_number(b, f); v && *v != 0) throw unsupported(f, "a non-zero penalty");
    if (auto lb = get_object(b, "logit_bias"); lb && !lb->empty()) throw unsupported("logit_bias", "logit_bias");
    get_string(b, "user");
    p.ignore_eos = get_bool(b, "ignore_eos").value_or(false);
}

}  // namespace

ParsedRequest parse_chat_request(const ordered_json& body, uint64_t default_seed) {
    check_known(body, {"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k",
                       "seed", "stop", "stream", "stream_options", "n", "tools", "tool_choice", "parallel_tool_calls",
                       "frequency_penalty", "presence_penalty", "logprobs", "top_logprobs", "logit_bias",
                       "response_format", "user", "store", "metadata", "thinking", "reasoning_effort",
                       "chat_template_kwargs", "ignore_eos"});
    ParsedRequest r;
    r.endpoint = Endpoint::chat;
    read_common(body, r, default_seed);
    if (get_bool(body, "logprobs").value_or(false)) throw unsupported("logprobs", "logprobs");
    if (auto t = get_int(body, "top_logprobs"); t && *t != 0) throw unsupported("top_logprobs", "top_logprobs");
    get_bool(body, "parallel_tool_calls");
    get_bool(body, "store");
    get_object(body, "metadata");
    if (auto rf = get_object(body, "response_format")) {
        auto t = get_string(*rf, "type");
        if (!t) throw invalid_param("response_format.type", "is required");
        if (*t != "text") throw unsupported("response_format.type", "response_format type '" + *t + "'");
    }

    const ordered_json* request = &body;
    ordered_json without_tools;
    if (auto tc = body.find("tool_choice"); tc != body.end() && !tc->is_null()) {
        if (!tc->is_string()) throw unsupported("tool_choice", "a tool_choice naming a function");
        const std::string v = tc->get<std::string>();
        if (v == "none") {  // the model is not offered the tools
            without_tools = body;
            without_tools.erase("tools");
            request = &without_tools;
        } else if (v != "auto") {
            throw unsupported("tool_choice", "tool_choice '" + v + "'");
        }
    }
    try {
        const chat::RenderedPrompt rp = chat::render_prompt(*request);
        r.prompt_text = rp.text;
        r.thinking = rp.thinking;
        r.has_tools = rp.has_tools;
    } catch (const chat::RequestError& e) {
        throw invalid_param(e.field(), e.message());
    }
    r.prompt_field = "messages";
    return r;
}

ParsedRequest parse_completion_request(const ordered_json& body, uint64_t default_seed) {
    check_known(body, {"model", "prompt", "max_tokens", "temperature", "top_p", "top_k", "seed", "stop", "stream",
                       "stream_options", "n", "best_of", "echo", "suffix", "logprobs", "frequency_penalty",
                       "presence_penalty", "logit_bias", "user", "ignore_eos"});
    ParsedRequest r;
    r.endpoint = Endpoint::completion;
    read_common(body, r, default_seed);
    if (get_bool(body, "echo").value_or(false)) throw unsupported("echo", "echo");
    if (get_string(body, "suffix")) throw unsupported("suffix", "suffix");
    if (auto lp = get_int(body, "logprobs"); lp && *lp != 0) throw unsupported("logprobs", "logprobs");
    if (auto bo = get_int(body, "best_of"); bo && *bo != 1) throw unsupported("best_of", "best_of other than 1");

    r.prompt_field = "prompt";
    auto it = body.find("prompt");
    if (it == body.end() || it->is_null()) throw invalid_param("prompt", "is required", "missing_required_parameter");
    const ordered_json* pr = &*it;
    std::string field = "prompt";
    if (pr->is_array() && pr->size() == 1 && ((*pr)[0].is_string() || (*pr)[0].is_array())) {
        pr = &(*pr)[0];  // a batch of one prompt
        field = "prompt[0]";
    }
    if (pr->is_string()) {
        r.prompt_text = pr->get<std::string>();
    } else if (pr->is_array() && !pr->empty()) {
        std::vector<int32_t> ids;
        for (size_t i = 0; i < pr->size(); ++i) {
            const auto& v = (*pr)[i];
            if (v.is_string() || v.is_array()) throw unsupported("prompt", "a batch of several prompts");
            if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > std::numeric_limits<int32_t>::max())
                throw invalid_param(field + "[" + std::to_string(i) + "]", "must be a token id (a non-negative integer)",
                                    "invalid_type");
            ids.push_back(int32_t(v.get<int64_t>()));
        }
        r.prompt_ids = std::move(ids);
    } else {
        throw invalid_param(field, "must be a string or an array of token ids, got " + type_of(*pr), "invalid_type");
    }
    return r;
}

ordered_json Usage::json() const {
    return ordered_json{{"prompt_tokens", prompt_tokens},
                        {"completion_tokens", completion_tokens},
                        {"total_tokens", prompt_tokens + completion_tokens}};
}

namespace {
ordered_json head(const ReplyMeta& m, const char* object) {
    return ordered_json{{"id", m.id}, {"object", object}, {"created", m.created}, {"model", m.model},
                        {"system_fingerprint", "dsv4"}};
}
ordered_json finish_json(const Finish& f) { return f ? ordered_json(*f) : ordered_json(nullptr); }
}  // namespace

ordered_json chat_completion(const ReplyMeta& m, ordered_json message, const std::string& finish, const Usage& usage) {
    ordered_json j = head(m, "chat.completion");
    j["choices"] = ordered_json::array({ordered_json{
        {"index", 0}, {"message", std::move(message)}, {"logprobs", nullptr}, {"finish_reason", finish}}});
    j["usage"] = usage.json();
    return j;
}

ordered_json chat_chunk(const ReplyMeta& m, ordered_json delta, const Finish& finish, bool with_usage_null) {
    ordered_json j = head(m, "chat.completion.chunk");
    j["choices"] = ordered_json::array({ordered_json{
        {"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", finish_json(finish)}}});
    if (with_usage_null) j["usage"] = nullptr;
    return j;
}

ordered_json text_completion(const ReplyMeta& m, const std::string& text, const std::string& finish, const Usage& usage) {
    ordered_json j = head(m, "text_completion");
    j["choices"] = ordered_json::array(
        {ordered_json{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish}}});
    j["usage"] = usage.json();
    return j;
}

ordered_json text_chunk(const ReplyMeta& m, const std::string& text, const Finish& finish, bool with_usage_null) {
    ordered_json j = head(m, "text_completion");
    j["choices"] = ordered_json::array(
        {ordered_json{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish_json(finish)}}});
    if (with_usage_null) j["usage"] = nullptr;
    return j;
}

ordered_json usage_chunk(const ReplyMeta& m, bool chat, const Usage& usage) {
    ordered_json j = head(m, chat ? "chat.completion.chunk" : "text_completion");
    j["choices"] = ordered_json::array();
    j["usage"] = usage.json();
    return j;
}

ordered_json models_list(const std::string& model_id, int64_t created, int64_t max_context) {
    ordered_json m{{"id", model_id}, {"object", "model"}, {"created", created}, {"owned_by", "dsv4"},
                   {"max_model_len", max_context}};
    return ordered_json{{"object", "list"}, {"data", ordered_json::array({m})}};
}

}  // namespace dsv4::server
