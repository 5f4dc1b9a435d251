// dsv4 serve: the OpenAI-compatible HTTP server (src/server).
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>

#include <pthread.h>

#include "cli/commands.h"
#include "model/model.h"
#include "server/http.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::cli {

// dsv4 serve --model DIR [--host 127.0.0.1] [--port 8000] [--api-key KEY] [--max-batch N] [--max-context N]
//            [--tokenizer FILE] [--max-queue N] [--threads N] [--model-id NAME] [--max-body-bytes N]
//            [--prefill-chunk N]
int cmd_serve(int argc, char** argv) {
    Args a(argc, argv, 1, {});
    const std::string dir = a.require("model");
    server::ServerOptions o;
    o.host = a.get_or("host", "127.0.0.1");
    o.port = int(a.get_int("port", 8000));
    // The key may also come from the environment (not visible in the process list).
    const char* env_key = std::getenv("DSV4_API_KEY");
    o.api_key = a.get_or("api-key", env_key ? env_key : "");
    o.max_batch = int(a.get_int("max-batch", 8));
    o.max_queue = int(a.get_int("max-queue", 64));
    o.max_context = a.get_int("max-context", 0);
    o.prefill_chunk = a.get_int("prefill-chunk", 64);
    o.max_body_bytes = size_t(a.get_int("max-body-bytes", 4 << 20));
    const std::string tok_path = a.get_or("tokenizer", (std::filesystem::path(dir) / "tokenizer.json").string());
    const int threads = int(a.get_int("threads", 0));
    const Numerics numerics = parse_numerics(a.get_or("numerics", "fp32"));
    o.model_id = a.get_or("model-id", std::filesystem::path(dir).lexically_normal().filename().string());
    if (o.model_id.empty()) o.model_id = std::filesystem::path(dir).lexically_normal().parent_path().filename().string();
    for (const auto& u : a.unused()) throw std::invalid_argument("unknown option " + u);
    if (o.port < 0 || o.port > 65535) throw std::invalid_argument("--port must be in 0..65535");
    if (o.max_batch < 1) throw std::invalid_argument("--max-batch must be at least 1");
    if (o.max_queue < 0) throw std::invalid_argument("--max-queue must be >= 0");
    if (o.max_context < 0) throw std::invalid_argument("--max-context must be >= 0");
    if (o.prefill_chunk < 1) throw std::invalid_argument("--prefill-chunk must be at least 1");
    if (!std::filesystem::exists(tok_path))
        throw std::invalid_argument("no tokenizer at '" + tok_path + "' (give --tokenizer FILE)");

    auto model = Model::load(dir, threads, numerics);
    const Tokenizer tok = Tokenizer::from_file(tok_path);
    if (int64_t(tok.vocab_size()) > model->config().vocab_size)
        throw std::invalid_argument("--tokenizer: '" + tok_path + "' has " + std::to_string(tok.vocab_size()) +
                                    " tokens, more than the model's vocabulary (" +
                                    std::to_string(model->config().vocab_size) + ")");

    // SIGINT/SIGTERM are taken by sigwait() below; block them before any thread starts. Writes to a
    // closed connection must fail with EPIPE, not kill the process.
    std::signal(SIGPIPE, SIG_IGN);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    server::HttpServer srv(*model, tok, o);
    const int port = srv.bind();
    std::fprintf(stderr, "dsv4 serve: model %s (%s), listening on http://%s:%d (max batch %d, max context %lld)\n",
                 o.model_id.c_str(), dir.c_str(), o.host.c_str(), port, o.max_batch,
                 static_cast<long long>(srv.options().max_context > 0 ? srv.options().max_context
                                                                       : model->config().max_position_embeddings));
    std::fflush(stderr);
    bool ok = true;
    std::thread listener([&] {
        ok = srv.listen();
        kill(getpid(), SIGTERM);  // wake the sigwait below when the listener ends by itself
    });
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::fprintf(stderr, "dsv4 serve: stopping (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv.stop();
    listener.join();
    return ok ? 0 : 1;
}

}  // namespace dsv4::cli
