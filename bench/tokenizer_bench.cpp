// Tokenizer throughput: encodes a ~10 MB corpus (the reference documents, repeated in a
// shuffled order) on one thread, document by document, and prints MB/s and tokens/s.
//   tokenizer_bench TOKENIZER.json CORPUS.json [--write-corpus REFS.json... ]
// With --write-corpus it builds CORPUS.json (a JSON array of strings) from the reference
// fixtures first, so the HF side (bench/hf_tokenizers_bench.js) encodes the very same text.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

static std::string slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    if (!f) throw std::runtime_error(p + ": cannot open");
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

int main(int argc, char** argv) try {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s TOKENIZER.json CORPUS.json [--write-corpus REFS.json...]\n", argv[0]);
        return 2;
    }
    const std::string corpus_path = argv[2];
    if (argc > 3 && std::string(argv[3]) == "--write-corpus") {
        std::vector<std::string> docs;
        for (int i = 4; i < argc; ++i)
            for (auto& d : nlohmann::json::parse(slurp(argv[i]))) docs.push_back(d["text"].get<std::string>());
        std::vector<std::string> corpus;
        size_t bytes = 0;
        std::mt19937 rng(42);
        while (bytes < 10'000'000) {
            std::shuffle(docs.begin(), docs.end(), rng);
            for (auto& d : docs) {
                corpus.push_back(d);
                bytes += d.size();
            }
        }
        std::ofstream(corpus_path) << nlohmann::json(corpus).dump();
    }
    std::vector<std::string> docs = nlohmann::json::parse(slurp(corpus_path)).get<std::vector<std::string>>();
    size_t bytes = 0;
    for (auto& d : docs) bytes += d.size();

    auto t0 = std::chrono::steady_clock::now();
    dsv4::Tokenizer tok = dsv4::Tokenizer::from_file(argv[1]);
    auto t1 = std::chrono::steady_clock::now();
    // The corpus is rounds of the same distinct documents; the first round runs with a cold
    // piece cache, so it is timed on its own too ("first_round").
    size_t distinct = docs.size();
    for (size_t i = 1; i < docs.size(); ++i)
        if (docs[i] == docs[0]) { distinct = i; break; }
    size_t tokens = 0, first_bytes = 0;
    double first_secs = 0;
    // CPU time as well as wall time: on a shared machine the CPU time is the steadier number.
    std::clock_t c2 = std::clock();
    auto t2 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < docs.size(); ++i) {
        tokens += tok.encode(docs[i]).size();
        if (i + 1 == distinct) {
            first_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t2).count();
            for (size_t k = 0; k < distinct; ++k) first_bytes += docs[k].size();
        }
    }
    auto t3 = std::chrono::steady_clock::now();
    double cpu = double(std::clock() - c2) / CLOCKS_PER_SEC;
    double load = std::chrono::duration<double>(t1 - t0).count();
    double secs = std::chrono::duration<double>(t3 - t2).count();
    std::printf("{\"impl\": \"dsv4\", \"docs\": %zu, \"bytes\": %zu, \"tokens\": %zu, \"load_s\": %.3f, \"encode_s\": %.3f, "
                "\"mb_per_s\": %.2f, \"tokens_per_s\": %.0f, \"first_round_mb_per_s\": %.2f, \"cpu_s\": %.3f, \"mb_per_cpu_s\": %.2f}\n",
                docs.size(), bytes, tokens, load, secs, bytes / secs / 1e6, tokens / secs,
                first_bytes / first_secs / 1e6, cpu, bytes / cpu / 1e6);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", e.what());
    return 1;
}
