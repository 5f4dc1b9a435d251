// dsv4 serve in-process: an HttpServer on an ephemeral loopback port over the tiny random-weight model,
// driven with httplib's client. Protocol, errors, batching determinism, overload and disconnects.
#include <gtest/gtest.h>

#include <httplib.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/request.h"
#include "model/model.h"
#include "server/http.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using dsv4::test::data_path;

// One model + tokenizer for every server of this file.
struct Shared {
    std::unique_ptr<dsv4::Model> model = dsv4::Model::load(data_path("dsv4-tiny-a"), 2);
    dsv4::Tokenizer tok = dsv4::Tokenizer::from_file(data_path("dsv4-tiny-a-tok/tokenizer.json"));
};
Shared& shared() {
    static Shared s;
    return s;
}

// A server running on its own thread for the lifetime of the object; always stopped and joined.
class RunningServer {
public:
    explicit RunningServer(dsv4::server::ServerOptions o) {
        std::signal(SIGPIPE, SIG_IGN);
        o.host = "127.0.0.1";
        o.port = 0;
        srv_ = std::make_unique<dsv4::server::HttpServer>(*shared().model, shared().tok, o);
        port_ = srv_->bind();
        thread_ = std::thread([this] { srv_->listen(); });
        // stop() before the listener runs would be lost: wait until it answers (bounded).
        for (int i = 0; i < 500; ++i) {
            auto r = client()->Get("/health");
            if (r && r->status == 200) break;
            std::this_thread::sleep_for(10ms);
        }
    }
    ~RunningServer() {
        srv_->stop();
        thread_.join();
    }
    int port() const { return port_; }
    std::unique_ptr<httplib::Client> client() const {
        auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
        c->set_read_timeout(60, 0);
        c->set_connection_timeout(5, 0);
        return c;
    }

private:
    std::unique_ptr<dsv4::server::HttpServer> srv_;
    int port_ = 0;
    std::thread thread_;
};

dsv4::server::ServerOptions default_options() {
    dsv4::server::ServerOptions o;
    o.max_batch = 8;
    o.max_queue = 32;
    o.max_context = 1024;
    o.max_body_bytes = 64 * 1024;
    o.model_id = "tiny";
    return o;
}

RunningServer& server() {
    static RunningServer s(default_options());
    return s;
}

json post(const RunningServer& s, const std::string& path, const json& body, int* status = nullptr) {
    auto r = s.client()->Post(path, body.dump(), "application/json");
    if (!r) throw std::runtime_error("no response from " + path);
    if (status) *status = r->status;
    return json::parse(r->body);
}

json chat_body(const std::string& user, int max_tokens, bool thinking = false) {
    return json{{"model", "tiny"},
                {"messages", json::array({json{{"role", "user"}, {"content", user}}})},
                {"max_tokens", max_tokens},
                {"temperature", 0},
                {"thinking", json{{"type", thinking ? "enabled" : "disabled"}}}};
}

struct Streamed {
    int status = 0;
    std::string content, reasoning, text;
    std::string finish;
    json usage;
    int chunks = 0;
    bool done = false;
};

Streamed stream(const RunningServer& s, const std::string& path, const json& body) {
    Streamed out;
    std::string buf;
    auto c = s.client();
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
        buf.append(d, n);
        for (size_t e; (e = buf.find("\n\n")) != std::string::npos; buf.erase(0, e + 2)) {
            std::string ev = buf.substr(0, e);
            if (ev.rfind("data: ", 0) != 0) continue;  // comments (keep-alive)
            std::string data = ev.substr(6);
            if (data == "[DONE]") {
                out.done = true;
                continue;
            }
            json j = json::parse(data);
            ++out.chunks;
            if (j.contains("usage") && !j["usage"].is_null()) out.usage = j["usage"];
            if (j["choices"].empty()) continue;
            const json& ch = j["choices"][0];
            if (!ch["finish_reason"].is_null()) out.finish = ch["finish_reason"];
            if (ch.contains("text")) out.text += ch["text"].get<std::string>();
            if (ch.contains("delta")) {
                const json& d = ch["delta"];
                if (d.contains("content") && d["content"].is_string()) out.content += d["content"].get<std::string>();
                if (d.contains("reasoning_content") && d["reasoning_content"].is_string())
                    out.reasoning += d["reasoning_content"].get<std::string>();
            }
        }
        return true;
    };
    auto r = c->send(req);
    if (!r) throw std::runtime_error("no response from " + path);
    out.status = r->status;
    return out;
}

// post() with the status stored in `st` (expect_error reads it through a reference, after the call).
json post_status(const RunningServer& s, const std::string& path, const json& body, int& st) {
    return post(s, path, body, &st);
}

void expect_error(const json& j, const int& status, int want_status, const std::string& param) {
    EXPECT_EQ(status, want_status) << j.dump();
    ASSERT_TRUE(j.contains("error")) << j.dump();
    const json& e = j["error"];
    EXPECT_TRUE(e["message"].is_string());
    EXPECT_TRUE(e["type"].is_string());
    EXPECT_TRUE(e.contains("code"));
    if (param.empty()) EXPECT_TRUE(e["param"].is_null()) << j.dump();
    else EXPECT_EQ(e["param"], param) << j.dump();
}

int64_t metric(const RunningServer& s, const std::string& name) {
    auto r = s.client()->Get("/metrics");
    if (!r) return -1;
    std::istringstream in(r->body);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(name + " ", 0) == 0) return std::stoll(line.substr(name.size() + 1));
    return -1;
}

TEST(Server, HealthModelsMetrics) {
    auto c = server().client();
    auto h = c->Get("/health");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200);
    auto m = c->Get("/v1/models");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 200);
    json j = json::parse(m->body);
    EXPECT_EQ(j["object"], "list");
    EXPECT_EQ(j["data"][0]["id"], "tiny");
    auto x = c->Get("/metrics");
    ASSERT_TRUE(x);
    EXPECT_NE(x->body.find("dsv4_queue_depth"), std::string::npos);
    EXPECT_NE(x->body.find("dsv4_time_to_first_token_seconds_count"), std::string::npos);
    auto nf = c->Get("/v1/nothing");
    ASSERT_TRUE(nf);
    expect_error(json::parse(nf->body), nf->status, 404, "");
}

TEST(Server, ChatCompletionUsageMatchesTheRenderedPrompt) {
    const json body = chat_body("Hello there", 8);
    int status = 0;
    json j = post(server(), "/v1/chat/completions", body, &status);
    ASSERT_EQ(status, 200) << j.dump();
    EXPECT_EQ(j["object"], "chat.completion");
    const json& ch = j["choices"][0];
    EXPECT_EQ(ch["message"]["role"], "assistant");
    EXPECT_TRUE(ch["finish_reason"] == "stop" || ch["finish_reason"] == "length");
    const auto prompt = dsv4::chat::render_prompt(nlohmann::ordered_json::parse(body.dump()));
    EXPECT_EQ(j["usage"]["prompt_tokens"], shared().tok.encode(prompt.text).size());
    EXPECT_LE(j["usage"]["completion_tokens"].get<int>(), 8);
    EXPECT_GE(j["usage"]["completion_tokens"].get<int>(), 1);
    EXPECT_EQ(j["usage"]["total_tokens"], j["usage"]["prompt_tokens"].get<int>() + j["usage"]["completion_tokens"].get<int>());
}

TEST(Server, StreamedChatEqualsNonStreamedForGreedy) {
    for (bool thinking : {false, true}) {
        json body = chat_body("Tell me a story", 24, thinking);
        int status = 0;
        json whole = post(server(), "/v1/chat/completions", body, &status);
        ASSERT_EQ(status, 200);
        body["stream"] = true;
        body["stream_options"] = {{"include_usage", true}};
        Streamed s = stream(server(), "/v1/chat/completions", body);
        EXPECT_EQ(s.status, 200);
        EXPECT_TRUE(s.done);
        const json& msg = whole["choices"][0]["message"];
        EXPECT_EQ(s.content, msg["content"].is_string() ? msg["content"].get<std::string>() : "") << thinking;
        if (thinking) {
            ASSERT_TRUE(msg.contains("reasoning_content"));
            EXPECT_EQ(s.reasoning, msg["reasoning_content"].is_string() ? msg["reasoning_content"].get<std::string>() : "");
        } else {
            EXPECT_EQ(s.reasoning, "");
        }
        EXPECT_EQ(s.finish, whole["choices"][0]["finish_reason"]);
        EXPECT_EQ(s.usage, whole["usage"]);
    }
}

TEST(Server, CompletionsStreamAndWhole) {
    json body{{"model", "tiny"}, {"prompt", "The quick brown fox"}, {"max_tokens", 12}, {"temperature", 0}};
    int status = 0;
    json whole = post(server(), "/v1/completions", body, &status);
    ASSERT_EQ(status, 200) << whole.dump();
    EXPECT_EQ(whole["object"], "text_completion");
    body["stream"] = true;
    Streamed s = stream(server(), "/v1/completions", body);
    EXPECT_EQ(s.text, whole["choices"][0]["text"]);
    EXPECT_TRUE(s.done);
    // Token ids as the prompt.
    json ids{{"prompt", json::array({0, 300, 301, 302})}, {"max_tokens", 4}, {"temperature", 0}};
    json r = post(server(), "/v1/completions", ids, &status);
    EXPECT_EQ(status, 200) << r.dump();
    EXPECT_EQ(r["usage"]["prompt_tokens"], 4);
}

TEST(Server, StopStringsCutTheOutput) {
    json body{{"prompt", "The quick brown fox"}, {"max_tokens", 24}, {"temperature", 0}};
    int status = 0;
    const std::string text = post(server(), "/v1/completions", body, &status)["choices"][0]["text"];
    ASSERT_EQ(status, 200);
    if (text.size() < 4) GTEST_SKIP() << "output too short to cut";
    std::string stop;  // two ASCII bytes from the second half (a stop string is whole characters)
    for (size_t i = text.size() / 2; i + 1 < text.size() && stop.empty(); ++i)
        if (static_cast<unsigned char>(text[i]) < 0x80 && static_cast<unsigned char>(text[i + 1]) < 0x80)
            stop = text.substr(i, 2);
    if (stop.empty()) GTEST_SKIP() << "no ASCII pair to stop at";
    body["stop"] = stop;
    json cut = post(server(), "/v1/completions", body, &status);
    EXPECT_EQ(cut["choices"][0]["text"], text.substr(0, text.find(stop)));
    EXPECT_EQ(cut["choices"][0]["finish_reason"], "stop");
    body["stream"] = true;
    EXPECT_EQ(stream(server(), "/v1/completions", body).text, text.substr(0, text.find(stop)));
}

TEST(Server, ToolRoundTripRendersThroughTheChatCode) {
    json tools = json::array({json{{"type", "function"},
                                   {"function", {{"name", "get_weather"},
                                                 {"description", "Weather of a city"},
                                                 {"parameters", {{"type", "object"},
                                                                 {"properties", {{"city", {{"type", "string"}}}}},
                                                                 {"required", {"city"}}}}}}}});
    json body{{"messages", json::array({json{{"role", "user"}, {"content", "Weather in Paris?"}},
                                        json{{"role", "assistant"},
                                             {"content", ""},
                                             {"tool_calls", json::array({json{{"id", "call_0"},
                                                                              {"type", "function"},
                                                                              {"function", {{"name", "get_weather"},
                                                                                            {"arguments", "{\"city\": \"Paris\"}"}}}}})}},
                                        json{{"role", "tool"}, {"tool_call_id", "call_0"}, {"content", "21 C, sunny"}}})},
              {"tools", tools},
              {"max_tokens", 6},
              {"temperature", 0}};
    int status = 0;
    json j = post(server(), "/v1/chat/completions", body, &status);
    ASSERT_EQ(status, 200) << j.dump();
    const auto prompt = dsv4::chat::render_prompt(nlohmann::ordered_json::parse(body.dump()));
    EXPECT_TRUE(prompt.has_tools);
    EXPECT_EQ(j["usage"]["prompt_tokens"], shared().tok.encode(prompt.text).size());
}

TEST(Server, ErrorsNameTheField) {
    const RunningServer& s = server();
    int st = 0;
    auto raw = s.client()->Post("/v1/chat/completions", "{not json", "application/json");
    ASSERT_TRUE(raw);
    expect_error(json::parse(raw->body), raw->status, 400, "");
    EXPECT_EQ(json::parse(raw->body)["error"]["code"], "invalid_json");

    json b = chat_body("hi", 4);
    b["messages"] = "hello";
    expect_error(post_status(s, "/v1/chat/completions", b, st), st, 400, "messages");
    b = chat_body("hi", 4);
    b["messages"][0]["role"] = "wizard";
    expect_error(post_status(s, "/v1/chat/completions", b, st), st, 400, "messages[0].role");
    b = chat_body("hi", 4);
    b["temperature"] = "hot";
    expect_error(post_status(s, "/v1/chat/completions", b, st), st, 400, "temperature");
    b = chat_body("hi", 4);
    b["max_tokens"] = -3;
    expect_error(post_status(s, "/v1/chat/completions", b, st), st, 400, "max_tokens");
    b = chat_body("hi", 4);
    b["n"] = 3;
    expect_error(post_status(s, "/v1/chat/completions", b, st), st, 400, "n");
    b = chat_body("hi", 4);
    b["frobnicate"] = true;
    expect_error(post_status(s, "/v1/chat/completions", b, st), st, 400, "frobnicate");
    b = chat_body("hi", 4);
    b["stop"] = json::array({"a", 3});
    expect_error(post_status(s, "/v1/chat/completions", b, st), st, 400, "stop[1]");
    b = chat_body("hi", 4);
    b["stream_options"] = {{"include_usage", true}};
    expect_error(post_status(s, "/v1/chat/completions", b, st), st, 400, "stream_options");
    // Context: the test server allows 1024 tokens.
    b = chat_body("hi", 100000);
    json e = post(s, "/v1/chat/completions", b, &st);
    expect_error(e, st, 400, "max_tokens");
    EXPECT_EQ(e["error"]["code"], "context_length_exceeded");
    b = chat_body(std::string(5000, 'x') + " long", 4);
    e = post(s, "/v1/chat/completions", b, &st);
    expect_error(e, st, 400, "messages");
    EXPECT_EQ(e["error"]["code"], "context_length_exceeded");
    json c{{"prompt", json::array({1, 2, 100000})}};
    expect_error(post_status(s, "/v1/completions", c, st), st, 400, "prompt[2]");
    c = json{{"prompt", 17}};
    expect_error(post_status(s, "/v1/completions", c, st), st, 400, "prompt");
    // Body size limit (64 KiB here).
    auto big = s.client()->Post("/v1/chat/completions", std::string(200 * 1024, ' ') + "{}", "application/json");
    if (big) {
        EXPECT_EQ(big->status, 413);  // the server may also just close the connection
    }
    // Still serving.
    post(s, "/v1/chat/completions", chat_body("hi", 2), &st);
    EXPECT_EQ(st, 200);
}

TEST(Server, ApiKey) {
    auto o = default_options();
    o.api_key = "sekret";
    RunningServer s(o);
    int st = 0;
    json e = post(s, "/v1/chat/completions", chat_body("hi", 2), &st);
    expect_error(e, st, 401, "");
    auto c = s.client();
    c->set_bearer_token_auth("wrong");
    auto r = c->Get("/v1/models");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    c->set_bearer_token_auth("sekret");
    r = c->Get("/v1/models");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(c->Get("/health")->status, 200);  // health needs no key
}

// Greedy outputs are the same alone and in a batch with others, and nobody gets another's text.
TEST(Server, BatchedGreedyEqualsAlone) {
    std::vector<std::string> prompts;
    for (int i = 0; i < 12; ++i) prompts.push_back("Prompt number " + std::to_string(i) + std::string(size_t(i * 7), 'z'));
    std::vector<std::string> alone;
    int st = 0;
    for (const auto& p : prompts) {
        json j = post(server(), "/v1/completions", json{{"prompt", p}, {"max_tokens", 16}, {"temperature", 0}}, &st);
        ASSERT_EQ(st, 200);
        alone.push_back(j["choices"][0]["text"]);
    }
    std::vector<std::future<std::string>> futs;
    for (size_t i = 0; i < prompts.size(); ++i)
        futs.push_back(std::async(std::launch::async, [&, i] {
            json b{{"prompt", prompts[i]}, {"max_tokens", 16}, {"temperature", 0}};
            if (i % 2) {
                b["stream"] = true;
                return stream(server(), "/v1/completions", b).text;
            }
            int s2 = 0;
            return post(server(), "/v1/completions", b, &s2)["choices"][0]["text"].get<std::string>();
        }));
    for (size_t i = 0; i < futs.size(); ++i) EXPECT_EQ(futs[i].get(), alone[i]) << "request " << i;
}

// One running slot, no queue: a second request is refused with 503 while the first streams; a client that
// goes away cancels its generation and frees the slot.
TEST(Server, OverloadAndDisconnect) {
    auto o = default_options();
    o.max_batch = 1;
    o.max_queue = 0;
    o.max_context = 1024;
    RunningServer s(o);
    std::atomic<bool> got_first{false}, release{false};
    std::thread slow([&] {
        auto c = s.client();
        httplib::Request req;
        req.method = "POST";
        req.path = "/v1/completions";
        req.body = json{{"prompt", "a"}, {"max_tokens", 1000}, {"temperature", 0}, {"stream", true}, {"ignore_eos", true}}.dump();
        req.set_header("Content-Type", "application/json");
        req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
            got_first = true;
            while (!release) std::this_thread::sleep_for(5ms);
            return false;  // hang up
        };
        c->send(req);
    });
    for (int i = 0; i < 2000 && !got_first; ++i) std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(got_first);
    int st = 0;
    json e = post(s, "/v1/completions", json{{"prompt", "b"}, {"max_tokens", 2}}, &st);
    EXPECT_EQ(st, 503) << e.dump();
    EXPECT_EQ(e["error"]["code"], "overloaded");
    release = true;
    slow.join();
    // The hang-up is noticed at the next write; the slot frees.
    bool freed = false;
    for (int i = 0; i < 200 && !freed; ++i) {
        freed = metric(s, "dsv4_requests_cancelled_total") >= 1 && metric(s, "dsv4_active_sequences") == 0;
        if (!freed) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(freed);
    post(s, "/v1/completions", json{{"prompt", "b"}, {"max_tokens", 2}}, &st);
    EXPECT_EQ(st, 200);
}

}  // namespace

namespace {

// The trained default model (models/dsv4-mini, with its own tokenizer.json) behind the server answers in text.
TEST(ServerMini, TrainedModelAnswersInText) {
    const std::string dir = std::string(DSV4_TEST_DATA) + "/../../models/dsv4-mini";
    auto model = dsv4::Model::load(dir, 2);
    auto tok = dsv4::Tokenizer::from_file(dir + "/tokenizer.json");
    dsv4::server::ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.model_id = "dsv4-mini";
    dsv4::server::HttpServer srv(*model, tok, o);
    const int port = srv.bind();
    std::thread t([&] { srv.listen(); });
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    for (int i = 0; i < 500; ++i) {
        auto r = c.Get("/health");
        if (r && r->status == 200) break;
        std::this_thread::sleep_for(10ms);
    }
    auto r = c.Post("/v1/completions", json{{"prompt", "Once upon a time"}, {"max_tokens", 16}, {"temperature", 0}}.dump(),
                    "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    const std::string text = json::parse(r->body)["choices"][0]["text"];
    size_t letters = 0;
    for (char ch : text) letters += std::isalpha(static_cast<unsigned char>(ch)) ? 1 : 0;
    EXPECT_GT(letters, text.size() / 2) << text;
    srv.stop();
    t.join();
}

}  // namespace
