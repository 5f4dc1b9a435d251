#include "server/http.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <stdexcept>

#include "chat/parse.h"
#include "model/model.h"
#include "server/metrics.h"
#include "server/openai.h"
#include "server/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::server {

using nlohmann::ordered_json;

namespace {

void send_error(httplib::Response& res, const ApiError& e) {
    res.status = e.status();
    res.set_content(dump(e.body()), "application/json");
}

std::string sse(const ordered_json& j) { return "data: " + dump(j) + "\n\n"; }

int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Comparison of the presented key with the configured one in time independent of where they differ.
bool same_key(const std::string& given, const std::string& key) {
    if (given.size() != key.size() || key.empty()) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < key.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ key[i]);
    return diff == 0;
}

// A generation cut short (max_tokens, a stop string) is incomplete, not malformed: its message is what the
// streaming parser made of it, as a stream would have sent it (e.g. the reasoning so far, no content),
// rather than parse_completion()'s fallback for broken output (everything as content).
chat::AssistantMessage assemble_cut(const std::string& text, bool thinking, const std::string& call_prefix) {
    chat::StreamParser sp(thinking, chat::ChatFormat::v4(), call_prefix);
    auto deltas = sp.feed(text);
    auto tail = sp.finish();
    deltas.insert(deltas.end(), tail.begin(), tail.end());
    chat::AssistantMessage msg;
    if (thinking) msg.reasoning_content.emplace();
    for (auto& d : deltas) {
        if (d.kind == chat::DeltaKind::reasoning) *msg.reasoning_content += d.text;
        else if (d.kind == chat::DeltaKind::content) msg.content += d.text;
        else msg.tool_calls.push_back(std::move(d.tool_call));
    }
    return msg;
}

// The reply of one accepted generation, written by httplib's chunked content provider: SSE chunks when
// streaming, otherwise one JSON body (preceded by whitespace written while waiting, to notice a client
// that went away: a write to a closed connection fails, and the request is then cancelled).
struct Reply {
    Reply(std::shared_ptr<RequestHandle> h, ParsedRequest req, ReplyMeta m, int64_t prompt_tokens, int keepalive_ms)
        : handle(std::move(h)), pr(std::move(req)), meta(std::move(m)), prompt_tokens(prompt_tokens),
          keepalive(keepalive_ms) {
        // Tool-call ids unique across the responses of a conversation: "call_<this response>_<index>".
        call_prefix = "call_" + meta.id.substr(meta.id.rfind('-') + 1) + "_";
        if (pr.endpoint == Endpoint::chat) parser.emplace(pr.thinking, chat::ChatFormat::v4(), call_prefix);
    }

    CancelOnExit handle;
    ParsedRequest pr;
    ReplyMeta meta;
    int64_t prompt_tokens;
    std::chrono::milliseconds keepalive;
    std::string call_prefix;
    std::optional<chat::StreamParser> parser;  // chat streaming
    bool started = false;
    bool saw_tool_call = false;
    std::string text;  // non-streaming: everything generated

    bool chat() const { return pr.endpoint == Endpoint::chat; }

    std::string finish_name(const Progress& p) const {
        if (p.finish == FinishReason::length) return "length";
        return saw_tool_call ? "tool_calls" : "stop";
    }

    std::string stream_text(const std::string& t, bool final_flush) {
        std::string out;
        const bool usage_null = pr.params.include_usage;
        if (!chat()) {
            if (!t.empty()) out += sse(text_chunk(meta, t, std::nullopt, usage_null));
            return out;
        }
        auto deltas = parser->feed(t);
        if (final_flush) {
            auto rest = parser->finish();
            deltas.insert(deltas.end(), rest.begin(), rest.end());
        }
        for (const auto& d : deltas) {
            if (d.kind == chat::DeltaKind::tool_call) saw_tool_call = true;
            out += sse(chat_chunk(meta, chat::to_openai_delta(d), std::nullopt, usage_null));
        }
        return out;
    }

    // One call of the content provider: waits for progress (bounded) and writes it.
    bool provide(httplib::DataSink& sink) {
        std::string out;
        if (!started) {
            started = true;
            if (pr.params.stream && chat())
                out = sse(chat_chunk(meta, ordered_json{{"role", "assistant"}, {"content", ""}}, std::nullopt,
                                     pr.params.include_usage));
            if (!out.empty()) return sink.write(out.data(), out.size());
        }
        // Streaming: send what arrived at once. Whole replies: collect until the end, but write a byte of
        // whitespace (valid before JSON) at least every `keepalive` to notice a client that went away.
        Progress p = handle->take(keepalive);
        if (!pr.params.stream) {
            const auto deadline = std::chrono::steady_clock::now() + keepalive;
            for (;;) {
                text += p.text;
                p.text.clear();
                const auto now = std::chrono::steady_clock::now();
                if (p.finish != FinishReason::none || now >= deadline) break;
                p = handle->take(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                                 std::chrono::milliseconds(1));
            }
        }
        if (p.finish == FinishReason::error || p.finish == FinishReason::cancelled) {
            const ApiError e(500, "server_error", std::nullopt, "generation_failed",
                             p.error.empty() ? "the generation was cancelled" : p.error);
            out = pr.params.stream ? "data: " + dump(e.body()) + "\n\n" : dump(e.body());
            sink.write(out.data(), out.size());
            sink.done();
            return true;
        }
        const bool end = p.finish != FinishReason::none;
        const Usage usage{prompt_tokens, p.completion_tokens};
        if (pr.params.stream) {
            out = stream_text(p.text, end);
            if (end) {
                const std::string fin = finish_name(p);
                out += sse(chat() ? chat_chunk(meta, ordered_json::object(), fin, pr.params.include_usage)
                                  : text_chunk(meta, "", fin, pr.params.include_usage));
                if (pr.params.include_usage) out += sse(usage_chunk(meta, chat(), usage));
                out += "data: [DONE]\n\n";
            }
        } else {
            if (end) {
                if (chat()) {
                    const chat::AssistantMessage msg =
                        p.finish_cut ? assemble_cut(text, pr.thinking, call_prefix)
                                     : chat::parse_completion(text, pr.thinking, chat::ChatFormat::v4(), call_prefix);
                    if (msg.malformed)
                        std::fprintf(stderr, "dsv4 serve: %s: malformed model output (%s); returned as content\n",
                                     meta.id.c_str(), msg.malformed->c_str());
                    saw_tool_call = !msg.tool_calls.empty();
                    out = dump(chat_completion(meta, chat::to_openai_message(msg), finish_name(p), usage));
                } else {
                    out = dump(text_completion(meta, text, finish_name(p), usage));
                }
            }
        }
        if (out.empty()) out = pr.params.stream ? ": keep-alive\n\n" : " ";
        if (!sink.write(out.data(), out.size())) return false;  // the client is gone: cancel
        if (end) sink.done();
        return true;
    }
};

}  // namespace

struct HttpServer::Impl {
    Impl(Model& m, const Tokenizer& t, ServerOptions o)
        : model(m), tok(t), opt(std::move(o)),
          max_context(opt.max_context > 0 ? opt.max_context : m.config().max_position_embeddings),
          scheduler(m, t, scheduler_options(), metrics) {
        if (max_context <= 1) throw std::invalid_argument("--max-context must be at least 2");
        if (opt.max_batch < 1) throw std::invalid_argument("--max-batch must be at least 1");
        routes();
    }

    SchedulerOptions scheduler_options() const {
        SchedulerOptions s;
        s.max_batch = opt.max_batch;
        s.max_queue = opt.max_queue;
        s.prefill_chunk = opt.prefill_chunk;
        s.step_tokens = std::max<int64_t>(opt.prefill_chunk * 2, 256);
        for (int64_t id : model.config().eos_token_ids) s.eos_ids.push_back(int32_t(id));
        return s;
    }

    void routes();
    void generate(const httplib::Request& req, httplib::Response& res, Endpoint ep);
    std::vector<int32_t> prompt_ids(const ParsedRequest& pr) const;

    Model& model;
    const Tokenizer& tok;
    ServerOptions opt;
    int64_t max_context;
    Metrics metrics;
    Scheduler scheduler;
    httplib::Server http;
    std::atomic<uint64_t> next_id{1};
    const int64_t started = unix_now();
};

std::vector<int32_t> HttpServer::Impl::prompt_ids(const ParsedRequest& pr) const {
    const int64_t vocab = model.config().vocab_size;
    std::vector<int32_t> ids;
    if (pr.prompt_ids) {
        ids = *pr.prompt_ids;
        for (size_t i = 0; i < ids.size(); ++i)
            if (ids[i] >= vocab)
                throw invalid_param(pr.prompt_field + "[" + std::to_string(i) + "]",
                                    "token id " + std::to_string(ids[i]) + " is outside the vocabulary (size " +
                                        std::to_string(vocab) + ")");
        return ids;
    }
    ids = tok.encode(pr.prompt_text);
    const int32_t bos = int32_t(model.config().bos_token_id);
    if (pr.endpoint == Endpoint::completion && bos >= 0 && (ids.empty() || ids[0] != bos)) ids.insert(ids.begin(), bos);
    for (int32_t id : ids)
        if (id < 0 || id >= vocab)
            throw ApiError(500, "server_error", std::nullopt, "tokenizer_mismatch",
                           "the tokenizer produced id " + std::to_string(id) + ", outside the model's vocabulary (" +
                               std::to_string(vocab) + ")");
    return ids;
}

void HttpServer::Impl::generate(const httplib::Request& req, httplib::Response& res, Endpoint ep) {
    const char* name = ep == Endpoint::chat ? "chat_completions" : "completions";
    try {
        const ordered_json body = parse_body(req.body);
        const uint64_t seed = std::random_device{}() ^ (next_id.load() << 32);
        ParsedRequest pr = ep == Endpoint::chat ? parse_chat_request(body, seed) : parse_completion_request(body, seed);
        if (pr.model.empty()) pr.model = opt.model_id;
        std::vector<int32_t> ids = prompt_ids(pr);
        if (ids.empty()) throw invalid_param(pr.prompt_field, "must not be empty");
        const int64_t n = int64_t(ids.size());
        if (n >= max_context)
            throw ApiError(400, "invalid_request_error", pr.prompt_field, "context_length_exceeded",
                           "This model's maximum context length is " + std::to_string(max_context) +
                               " tokens. However, your " + pr.prompt_field + " resulted in " + std::to_string(n) +
                               " tokens, leaving no room for the completion.");
        const int64_t room = max_context - n;
        if (pr.params.max_tokens && *pr.params.max_tokens > room)
            throw ApiError(400, "invalid_request_error", pr.params.max_tokens_field, "context_length_exceeded",
                           "This model's maximum context length is " + std::to_string(max_context) +
                               " tokens. However, you requested " + std::to_string(n + *pr.params.max_tokens) +
                               " tokens (" + std::to_string(n) + " in the " + pr.prompt_field + ", " +
                               std::to_string(*pr.params.max_tokens) + " in the completion).");
        Job job;
        job.prompt = std::move(ids);
        job.max_tokens = pr.params.max_tokens.value_or(room);
        job.sampler = pr.params.sampler;
        if (pr.params.top_k) job.sampler.top_k = *pr.params.top_k;
        job.stop = pr.params.stop;
        job.ignore_eos = pr.params.ignore_eos;
        auto handle = scheduler.submit(std::move(job));
        if (!handle) {
            res.set_header("Retry-After", "1");
            throw ApiError(503, "server_error", std::nullopt, "overloaded",
                           "The server is overloaded: " + std::to_string(opt.max_queue) +
                               " requests are already waiting. Retry later.");
        }
        const uint64_t id = next_id.fetch_add(1);
        char idbuf[40];
        std::snprintf(idbuf, sizeof idbuf, "%s-%016llx", ep == Endpoint::chat ? "chatcmpl" : "cmpl",
                      static_cast<unsigned long long>(id * 0x9E3779B97F4A7C15ull));
        ReplyMeta meta{idbuf, unix_now(), pr.model};
        const bool stream = pr.params.stream;
        auto reply = std::make_shared<Reply>(std::move(handle), std::move(pr), std::move(meta), n, opt.keepalive_ms);
        res.status = 200;
        if (stream) {
            res.set_header("Cache-Control", "no-cache");
            res.set_header("X-Accel-Buffering", "no");
        }
        // Neither type is one httplib compresses: a compressor would hold back the chunks (and with them
        // the writes that notice a client that went away).
        res.set_chunked_content_provider(stream ? "text/event-stream" : "application/json; charset=utf-8",
                                         [reply](size_t, httplib::DataSink& sink) { return reply->provide(sink); });
        metrics.request_done(name, 200);
    } catch (const ApiError& e) {
        send_error(res, e);
        metrics.request_done(name, e.status());
    }
}

void HttpServer::Impl::routes() {
    http.new_task_queue = [threads = opt.http_threads > 0 ? opt.http_threads : opt.max_batch + opt.max_queue + 16] {
        return new httplib::ThreadPool(size_t(threads));  // httplib takes ownership
    };
    http.set_payload_max_length(opt.max_body_bytes);
    http.set_keep_alive_timeout(2);
    http.set_read_timeout(30);
    http.set_write_timeout(30);
    http.set_tcp_nodelay(true);

    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (opt.api_key.empty() || req.path.rfind("/v1/", 0) != 0) return httplib::Server::HandlerResponse::Unhandled;
        const std::string auth = req.get_header_value("Authorization");
        const std::string prefix = "Bearer ";
        if (auth.rfind(prefix, 0) == 0 && same_key(auth.substr(prefix.size()), opt.api_key))
            return httplib::Server::HandlerResponse::Unhandled;
        send_error(res, ApiError(401, "invalid_request_error", std::nullopt, "invalid_api_key",
                                 auth.empty() ? "Missing API key: send it as 'Authorization: Bearer KEY'."
                                              : "Incorrect API key provided."));
        metrics.request_done("unauthorized", 401);
        return httplib::Server::HandlerResponse::Handled;
    });
    // Errors httplib produces itself (404, 413, 400 on a bad request line, ...) get an OpenAI error body.
    http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                       httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string code = "http_" + std::to_string(res.status), msg = "HTTP error " + std::to_string(res.status);
        std::optional<std::string> param;
        if (res.status == 404) {
            code = "not_found";
            msg = "No route for " + req.method + " " + req.path;
        } else if (res.status == 413) {
            code = "body_too_large";
            msg = "The request body is larger than the limit of " + std::to_string(opt.max_body_bytes) + " bytes.";
        }
        send_error(res, ApiError(res.status, "invalid_request_error", param, code, msg));
        metrics.request_done("error", res.status);
        return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        std::fprintf(stderr, "dsv4 serve: internal error: %s\n", what.c_str());
        send_error(res, ApiError(500, "server_error", std::nullopt, "internal_error", what));
        metrics.request_done("error", 500);
    });

    http.Post("/v1/chat/completions",
              [this](const httplib::Request& q, httplib::Response& r) { generate(q, r, Endpoint::chat); });
    http.Post("/v1/completions",
              [this](const httplib::Request& q, httplib::Response& r) { generate(q, r, Endpoint::completion); });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(dump(models_list(opt.model_id, started, max_context)), "application/json");
        metrics.request_done("models", 200);
    });
    http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(R"({"status":"ok"})", "application/json");
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics.prometheus(), "text/plain; version=0.0.4");
    });
}

HttpServer::HttpServer(Model& model, const Tokenizer& tokenizer, ServerOptions options)
    : impl_(std::make_unique<Impl>(model, tokenizer, std::move(options))) {}

HttpServer::~HttpServer() { stop(); }

int HttpServer::bind() {
    auto& o = impl_->opt;
    if (o.port == 0) {
        const int port = impl_->http.bind_to_any_port(o.host);
        if (port <= 0) throw std::runtime_error("cannot bind " + o.host + " (any port)");
        o.port = port;
    } else if (!impl_->http.bind_to_port(o.host, o.port)) {
        throw std::runtime_error("cannot bind " + o.host + ":" + std::to_string(o.port));
    }
    return o.port;
}

bool HttpServer::listen() { return impl_->http.listen_after_bind(); }

void HttpServer::stop() {
    if (!impl_) return;
    impl_->http.stop();
    impl_->scheduler.stop();
}

const ServerOptions& HttpServer::options() const { return impl_->opt; }
Metrics& HttpServer::metrics() { return impl_->metrics; }

}  // namespace dsv4::server
