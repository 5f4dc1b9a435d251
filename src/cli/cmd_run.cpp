// Text in, text out with a model directory that carries tokenizer.json:
//   dsv4 run "prompt"            continue a prompt (default model: models/dsv4-mini)
//   dsv4 perplexity --text FILE  perplexity of a text file, computed as tools/train/train.py's held-out evaluation
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "cli/commands.h"
#include "model/model.h"
#include "runtime/perplexity.h"
#include "runtime/generate.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

#ifndef DSV4_DEFAULT_MODEL_DIR
#define DSV4_DEFAULT_MODEL_DIR "models/dsv4-mini"
#endif

namespace dsv4::cli {

namespace {

// --model, else models/dsv4-mini under the working directory, else the one in the source tree
// this binary was built from.
std::string model_dir_of(const Args& a) {
    if (auto m = a.get("model")) return *m;
    namespace fs = std::filesystem;
    for (const char* d : {"models/dsv4-mini", DSV4_DEFAULT_MODEL_DIR})
        if (fs::exists(fs::path(d) / "config.json")) return d;
    throw std::runtime_error("no --model given and the default model (models/dsv4-mini) was not found");
}

Tokenizer tokenizer_of(const std::string& dir) {
    auto path = std::filesystem::path(dir) / "tokenizer.json";
    if (!std::filesystem::exists(path))
        throw std::runtime_error(dir + " has no tokenizer.json (text commands need one)");
    return Tokenizer::from_file(path.string());
}

std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

// DIR/unigram_counts.json ({"counts": [one per id]}, written by tools/train/unigram_counts.py), or empty.
std::vector<int64_t> unigram_counts_of(const std::string& dir) {
    auto path = std::filesystem::path(dir) / "unigram_counts.json";
    if (!std::filesystem::exists(path)) return {};
    try {
        auto j = nlohmann::json::parse(read_text(path.string()));
        return j.at("counts").get<std::vector<int64_t>>();
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(path.string() + ": " + e.what());
    }
}

}  // namespace

int cmd_perplexity(int argc, char** argv) {
    Args a(argc, argv, 1, {});
    const std::string dir = model_dir_of(a);
    const std::string text_path = a.require("text");
    const int64_t window = a.get_int("window", 256);
    const int threads = int(a.get_int("threads", 0));
    const Numerics numerics = parse_numerics(a.get_or("numerics", "fp32"));
    a.reject_unused("perplexity", /*positional_ok=*/true);
    if (window < 1) throw std::invalid_argument("--window must be >= 1");

    auto tok = tokenizer_of(dir);
    const auto ids = tok.encode(read_text(text_path));  // no BOS: training used none
    if (ids.size() < 2) throw std::runtime_error(text_path + ": fewer than 2 tokens");
    auto model = Model::load(dir, threads, numerics);

    const auto counts = unigram_counts_of(dir);
    const auto r = perplexity(*model, ids, window, counts);
    std::printf("tokens       %zu (%lld predicted, windows of %lld)\n", ids.size(), (long long)r.predicted,
                (long long)window);
    std::printf("loss         %.6f nats/token\n", r.loss());
    std::printf("perplexity   %.4f\n", r.perplexity());
    std::printf("unigram      %.4f (baseline: %s)\n", r.unigram_perplexity(),
                counts.empty() ? "the text's own token frequencies"
                               : "add-one training-set token frequencies, unigram_counts.json");
    return 0;
}

int cmd_run(int argc, char** argv) {
    Args a(argc, argv, 1, {"greedy"});
    const std::string dir = model_dir_of(a);
    int64_t max_new = a.get_int("max-new-tokens", 64);
    if (max_new < 0) throw std::invalid_argument("--max-new-tokens must be >= 0");
    SamplerParams sp;
    sp.greedy = a.flag("greedy");
    if (sp.greedy && (a.has("temperature") || a.has("top-p")))
        throw std::invalid_argument("--greedy cannot be combined with --temperature/--top-p");
    sp.temperature = a.get_double("temperature", 0.8);
    sp.top_p = a.get_double("top-p", 0.9);
    sp.seed = uint64_t(a.get_int("seed", 0));
    const int threads = int(a.get_int("threads", 0));
    const Numerics numerics = parse_numerics(a.get_or("numerics", "fp32"));
    a.reject_unused("run", /*positional_ok=*/true);
    const auto& pos = a.positional();
    if (pos.size() != 1) throw std::invalid_argument("usage: dsv4 run [options] \"prompt\"");
    const std::string& prompt = pos.front();

    auto tok = tokenizer_of(dir);
    const auto ids = tok.encode(prompt);  // no BOS: the model was trained on plain text
    if (ids.empty()) throw std::invalid_argument("the prompt is empty");
    auto model = Model::load(dir, threads, numerics);
    Sampler sampler(sp);
    auto st = model->new_sequence();
    std::fputs(prompt.c_str(), stdout);
    std::fflush(stdout);
    StreamDecoder dec(tok);
    GenerateOptions opt;
    opt.max_new = max_new;
    generate(*model, st, ids, sampler, opt, [&](int32_t next, bool is_eos) {
        if (is_eos) return;
        std::fputs(dec.push(next).c_str(), stdout);
        std::fflush(stdout);
    });
    std::fputs(dec.flush().c_str(), stdout);
    std::fputs("\n", stdout);
    return 0;
}

}  // namespace dsv4::cli
