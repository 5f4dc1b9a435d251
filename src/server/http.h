// The HTTP front of `dsv4 serve` (cpp-httplib): routes, API key, limits, OpenAI error bodies, SSE.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace dsv4 {
class Model;
class Tokenizer;
}  // namespace dsv4

namespace dsv4::server {

class Metrics;

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8000;                 // 0: any free port (bind() says which)
    std::string api_key;             // empty: no key needed
    std::string model_id = "dsv4";   // the name /v1/models lists
    int max_batch = 8;               // sequences per forward step
    int max_queue = 64;              // requests waiting for a batch slot; more get 503
    int64_t max_context = 0;         // prompt + completion tokens; 0: the model's max_position_embeddings
    int64_t prefill_chunk = 64;      // prompt tokens of one sequence per step
    size_t max_body_bytes = 4 << 20;  // larger request bodies get 413
    int http_threads = 0;            // 0: max_batch + max_queue + 16
    int keepalive_ms = 250;          // while a reply waits: probe the client this often (disconnect detection)
};

class HttpServer {
public:
    // The model and tokenizer must outlive the server. Starts the scheduler thread.
    HttpServer(Model& model, const Tokenizer& tokenizer, ServerOptions options);
    ~HttpServer();  // stops
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds host:port; returns the port (throws std::runtime_error when it cannot bind).
    int bind();
    // Serves until stop(); returns false if the listener failed.
    bool listen();
    // Stops listening, ends the open streams and the scheduler. Safe from any thread, more than once.
    void stop();
    const ServerOptions& options() const;
    Metrics& metrics();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace dsv4::server
