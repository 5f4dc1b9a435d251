// dsv4 quantize | random-init | bench: building checkpoints and timing the engine.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <sys/resource.h>

#include "cli/commands.h"
#include "io/json_file.h"
#include "io/quantize.h"
#include "io/random_init.h"
#include "io/token_file.h"
#include "kernels/cpu/machine.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/random_linear.h"
#include "kernels/cpu/rounding.h"
#include "model/model.h"

namespace dsv4::cli {

namespace {

int64_t shard_bytes_arg(const Args& a) {
    const int64_t mb = a.get_int("shard-mb", 2000);
    if (mb <= 0) throw std::invalid_argument("--shard-mb must be positive");
    return mb * 1000 * 1000;
}

}  // namespace

int cmd_quantize(int argc, char** argv) {
    Args a(argc, argv, 1, {"quiet"});
    const auto in = a.require("model");
    const auto out = a.require("out");
    const auto fmt = parse_quant_format(a.require("format"));
    const int threads = int(a.get_int("threads", 0));
    const int64_t shard = shard_bytes_arg(a);
    const bool quiet = a.flag("quiet");
    a.reject_unused("quantize");
    if (std::filesystem::exists(out) && std::filesystem::equivalent(in, out))
        throw std::invalid_argument("--out must differ from --model");
    // Read once, tensor by tensor: mapped unless DSV4_LOAD says otherwise (no point holding a
    // resident copy of the whole input).
    LoadMode mode = load_mode_from_env();
    auto ck = Checkpoint::open(in, mode == LoadMode::Auto ? LoadMode::Mapped : mode);
    ThreadPool pool(threads);
    write_checkpoint(out, read_json_file(in + "/config.json"), checkpoint_sources(*ck), fmt, pool, shard, !quiet);
    // Other files of the checkpoint (generation config, tokenizer) come along unchanged.
    for (auto& e : std::filesystem::directory_iterator(in)) {
        const auto name = e.path().filename().string();
        if (e.is_regular_file() && name != "config.json" && name.find("safetensors") == std::string::npos &&
            (name.ends_with(".json") || name.ends_with(".model") || name.ends_with(".txt")))
            std::filesystem::copy_file(e.path(), std::filesystem::path(out) / name,
                                       std::filesystem::copy_options::overwrite_existing);
    }
    return 0;
}

int cmd_random_init(int argc, char** argv) {
    Args a(argc, argv, 1, {"quiet"});
    const auto cfg_path = a.require("config");
    const auto out = a.require("out");
    const auto fmt = parse_quant_format(a.get_or("format", "fp4-experts"));
    const uint64_t seed = uint64_t(a.get_int("seed", 1));
    const int threads = int(a.get_int("threads", 0));
    const int64_t shard = shard_bytes_arg(a);
    const bool quiet = a.flag("quiet");
    a.reject_unused("random-init");
    auto j = read_json_file(cfg_path);
    auto cfg = ModelConfig::from_json(j, cfg_path);
    ThreadPool pool(threads);
    write_checkpoint(out, j, random_sources(cfg, seed), fmt, pool, shard, !quiet);
    return 0;
}

namespace {

// What one token costs: weight bytes a decode step reads, and matmul flops.
struct TokenCost {
    double decode_bytes = 0;  // every non-routed weight + k routed experts per layer + one embedding row
    double flops = 0;         // 2 x multiply-adds of the matmuls per token, head excluded
    double head_flops = 0;
};

TokenCost token_cost(const Model& m) {
    const auto& w = m.weights();
    const auto& c = m.config();
    TokenCost tc;
    auto add = [&](const Linear& L, double times) {
        if (!L.valid()) return;
        tc.decode_bytes += double(L.bytes()) * times;
        tc.flops += 2.0 * double(L.out) * double(L.in) * times;
    };
    tc.decode_bytes += double(w.embed.row_bytes);
    tc.decode_bytes += double(w.head.bytes());
    tc.head_flops = 2.0 * double(w.head.out) * double(w.head.in);
    add(w.hc_head.fn, 1);
    for (const auto& L : w.layers) {
        add(L.hc_attn.fn, 1), add(L.hc_ffn.fn, 1);
        const auto& A = L.attn;
        for (auto* x : {&A.wq_a, &A.wq_b, &A.wkv, &A.wo_a, &A.wo_b}) add(*x, 1);
        if (A.has_compressor) add(A.compressor.wkv, 1), add(A.compressor.wgate, 1);
        if (A.has_indexer) {
            add(A.indexer.wq_b, 1), add(A.indexer.weights_proj, 1);
            add(A.indexer.compressor.wkv, 1), add(A.indexer.compressor.wgate, 1);
        }
        add(L.ffn.gate, 1);
        if (!L.ffn.experts.empty()) {
            const auto& e = L.ffn.experts[0];
            const double k = double(c.num_experts_per_tok);
            add(e.w1, k), add(e.w2, k), add(e.w3, k);
        }
        if (L.ffn.has_shared) add(L.ffn.shared.w1, 1), add(L.ffn.shared.w2, 1), add(L.ffn.shared.w3, 1);
    }
    return tc;
}

// CPU seconds this process has used (all threads): with wall time, how much of the machine the
// run actually got (the development machine is shared).
double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}


// `dsv4 bench --kernels`: the matmul kernels alone, on the benchmark model's shapes (hidden 2048).
// gemv: one matrix of ~128 MB (4x a large L3) per format, T = 1, rows split over the pool, GB/s
// of weights read. gemm: a 2048 x 2048 projection over 512 tokens and a 1024 x 2048 expert over
// 48 tokens (a 512-token prompt's share per expert with 64 experts, top-6), GFLOP/s. The "-i8"
// row rounds the activations to int8 (--numerics int8's MXFP4 path); the "-q8" rows feed FP8
// activations (QDQ8, as --numerics official does), which take the bf16 dots on AVX512_BF16 CPUs.
void bench_kernels(ThreadPool& pool) {
    using F = Linear::Format;
    struct Fmt {
        F f;
        const char* name;
        bool int8;  // activations rounded to int8 (--numerics int8's MXFP4 path)
        bool q8;    // activations rounded by QDQ8 (--numerics official's FP8/FP4 inputs)
    };
    const Fmt fmts[] = {{F::BF16, "bf16", false, false}, {F::FP8, "fp8", false, false},
                        {F::FP8, "fp8-q8", false, true}, {F::FP4, "mxfp4", false, false},
                        {F::FP4, "mxfp4-q8", false, true}, {F::FP4, "mxfp4-i8", true, false}};
    std::printf("%-8s %-28s %10s %12s\n", "format", "product", "ms/call", "rate");
    auto time_calls = [](auto&& fn) {
        fn();  // warm-up (page faults, pool wake-up)
        double best = 1e30;
        for (int rep = 0; rep < 5; ++rep) {
            auto t0 = std::chrono::steady_clock::now();
            int n = 0;
            do {
                fn();
                ++n;
            } while (seconds_since(t0) < 0.2);
            best = std::min(best, seconds_since(t0) / n);
        }
        return best;
    };
    std::mt19937 g(7);
    std::normal_distribution<float> nd;
    std::vector<float> x_all(size_t(512 * 2048)), x_q8, y;
    for (auto& v : x_all) v = nd(g);
    x_q8 = x_all;
    for (int64_t t = 0; t < 512; ++t) rnd::qdq8(x_q8.data() + t * 2048, 2048, 128);
    for (auto [f, name, int8, q8] : fmts) {
        const float* x = q8 ? x_q8.data() : x_all.data();
        auto product = [&, int8 = int8](const Linear& W, int64_t T) {
            const MatmulJob job{&W, x, 2048, y.data(), W.out, T, 0, -1, int8};
            matmul_batch(pool, std::span<const MatmulJob>(&job, 1));
        };
        const int64_t in = 2048;
        const double bytes_per_row = f == F::BF16 ? 2.0 * in : f == F::FP8 ? double(in) : in / 2.0 + in / 32.0;
        // from DRAM (128 MB), and from cache (4 MB: the compute rate of the kernel alone)
        for (int64_t mb : {128, 4}) {
            const int64_t rows = int64_t(double(mb << 20) / bytes_per_row) / 128 * 128;
            auto W = random_linear(f, rows, in, 1);
            // Uniformly random E4M3 bytes have exponent field 0 in 1/16 of the codes (quantized
            // weights: ~1e-4), and a bf16-dot chunk holding one takes FMAs: the q8 row gets
            // quantized-like codes (exponent 0 -> 1) so that it measures the dots.
            if (q8 && f == F::FP8)
                for (auto& b : W.data)
                    if ((b & 0x78) == 0) b |= 0x08;
            y.resize(size_t(std::max<int64_t>(rows, 512 * 2048)));
            const double s = time_calls([&] { product(W.L, 1); });
            const double gbs = double(W.L.bytes()) / s / 1e9;
            const std::string prod = "gemv " + std::to_string(rows) + "x2048" + (mb < 32 ? " (cached)" : "");
            std::printf("%-8s %-28s %10.3f %8.1f GB/s\n", name, prod.c_str(), s * 1e3, gbs);
            std::printf("RESULT kernel format=%s product=gemv mb=%lld threads=%d gbs=%.2f\n", name, (long long)mb,
                        pool.size(), gbs);
        }
        if (int8 || q8) continue;  // products over several tokens: the same fp32 GEMM
        for (auto [out, T] : {std::pair<int64_t, int64_t>{2048, 512}, {1024, 48}}) {
            auto Wg = random_linear(f, out, in, 2);
            const double sg = time_calls([&] { product(Wg.L, T); });
            const double gf = 2.0 * double(out * in * T) / sg / 1e9;
            const std::string prod = "gemm " + std::to_string(out) + "x2048, T=" + std::to_string(T);
            std::printf("%-8s %-28s %10.3f %6.1f GFLOP/s\n", name, prod.c_str(), sg * 1e3, gf);
            std::printf("RESULT kernel format=%s product=gemm out=%lld T=%lld threads=%d gflops=%.2f\n", name,
                        (long long)out, (long long)T, pool.size(), gf);
        }
    }
}

}  // namespace

int cmd_bench(int argc, char** argv) {
    Args a(argc, argv, 1, {"machine", "kernels"});
    const bool machine = a.flag("machine"), kernels = a.flag("kernels");
    const auto dir = a.get("model");
    const auto tokens_file = a.get("tokens");
    int64_t prompt_n = a.get_int("prompt", 512);
    const int64_t gen_n = a.get_int("gen", 32);
    const int threads = int(a.get_int("threads", 0));
    const uint64_t seed = uint64_t(a.get_int("seed", 1));
    const Numerics numerics = parse_numerics(a.get_or("numerics", "fp32"));
    a.reject_unused("bench");
    if (!machine && !kernels && !dir)
        throw std::invalid_argument("missing required option --model (or --machine, --kernels)");
    if (prompt_n < 1 || gen_n < 0) throw std::invalid_argument("--prompt must be >= 1 and --gen >= 0");
    std::printf("kernels         %s\n", kernels_name(best_isa()));
    if (machine) {
        ThreadPool pool(threads);
        const double bw = measure_read_bandwidth(pool), peak = measure_fma_peak(pool);
        std::printf("machine         %d threads: streaming read %.1f GB/s, fp32 FMA peak %.0f GFLOP/s\n", pool.size(),
                    bw, peak);
        std::printf("RESULT machine threads=%d bandwidth_gbs=%.2f peak_gflops=%.1f\n", pool.size(), bw, peak);
        if (!dir && !kernels) return 0;
    }
    if (kernels) {
        ThreadPool pool(threads);
        bench_kernels(pool);
        if (!dir) return 0;
    }
    auto model = Model::load(*dir, threads, numerics);
    std::printf("numerics        %s\n", numerics_name(numerics));
    {
        // Fault every page of the mapped weights in before timing, so the first timed forward
        // does not pay for reading the checkpoint from disk.
        const auto t0 = std::chrono::steady_clock::now();
        uint64_t sum = 0, bytes = 0;
        for (const auto& [name, tv] : model->checkpoint().tensors()) {
            for (size_t off = 0; off < tv->nbytes; off += 4096) sum += tv->data[off];
            bytes += tv->nbytes;
        }
        std::printf("weights         %.2f GB, %s (DSV4_LOAD), touched in %.1f s (checksum %llu)\n", double(bytes) / 1e9,
                    residency_name(model->checkpoint().residency()), seconds_since(t0), (unsigned long long)(sum & 0xff));
    }
    const auto tc = token_cost(*model);
    const int64_t V = model->config().vocab_size;
    std::mt19937_64 rng(seed);
    std::vector<int32_t> prompt(static_cast<size_t>(prompt_n));
    for (auto& t : prompt) t = int32_t(2 + rng() % uint64_t(std::max<int64_t>(1, V - 2)));
    if (tokens_file) {  // a given prompt (its first --prompt tokens when that is given)
        auto ids = read_token_file(*tokens_file);
        if (ids.empty()) throw std::invalid_argument(*tokens_file + ": no tokens");
        if (a.has("prompt") && int64_t(ids.size()) > prompt_n) ids.resize(size_t(prompt_n));
        prompt.assign(ids.begin(), ids.end());
        prompt_n = int64_t(prompt.size());
    }

    ForwardOptions last;
    last.all_logits = false;
    std::vector<float> logits;
    auto st = model->new_sequence();
    const int nthreads = model->pool().size();
    double c0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    model->forward(st, prompt, logits, last);
    const double prefill_s = seconds_since(t0);
    const double prefill_cpu = (cpu_seconds() - c0) / (prefill_s * nthreads);
    const double prefill_tps = double(prompt_n) / prefill_s;
    const double prefill_gflops = (tc.flops * double(prompt_n) + tc.head_flops) / prefill_s / 1e9;
    std::printf("prefill         %lld tokens in %.2f s: %.1f tok/s, %.1f GFLOP/s of matmuls (cpu use %.0f%% of %d threads)\n",
                (long long)prompt_n, prefill_s, prefill_tps, prefill_gflops, 100 * prefill_cpu, nthreads);

    double decode_tps = 0, decode_cpu = 0;
    if (gen_n > 0) {
        auto argmax = [&] { return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin()); };
        int32_t next = argmax();
        model->forward(st, std::span<const int32_t>(&next, 1), logits, last);  // warm-up step
        next = argmax();
        // --machine: on a shared host DRAM bandwidth moves by 2x within seconds, so the streaming
        // read runs again right before the decode (the reading at the start is a model load and a
        // prefill earlier), and a 128 MB read on all threads before every step gives a yardstick
        // from the same seconds as the decode. Only the steps are timed; the reads leave nothing
        // useful in the caches.
        std::unique_ptr<ReadProbe> probe;
        if (machine) {
            const double bw_before = measure_read_bandwidth(model->pool());
            std::printf("machine before  streaming read %.1f GB/s (right before the decode)\n", bw_before);
            std::printf("RESULT machine_before bandwidth_before_gbs=%.2f\n", bw_before);
            probe = std::make_unique<ReadProbe>(model->pool(), size_t(128) << 20);
        }
        model->pool().reset_stats();
        double s = 0, cpu = 0, probe_parallel = 0;
        int64_t probe_calls = 0;
        for (int64_t i = 0; i < gen_n; ++i) {
            if (probe) {
                const auto before = model->pool().stats();
                probe->pass();
                const auto after = model->pool().stats();
                probe_parallel += after.parallel_seconds - before.parallel_seconds;
                probe_calls += after.parallel_calls - before.parallel_calls;
            }
            c0 = cpu_seconds();
            t0 = std::chrono::steady_clock::now();
            model->forward(st, std::span<const int32_t>(&next, 1), logits, last);
            next = argmax();
            s += seconds_since(t0);
            cpu += cpu_seconds() - c0;
        }
        decode_tps = double(gen_n) / s;
        decode_cpu = cpu / (s * nthreads);
        std::printf("decode          %lld tokens in %.2f s: %.1f tok/s, %.0f MB of weights per token = %.1f GB/s "
                    "(cpu use %.0f%% of %d threads)\n",
                    (long long)gen_n, s, decode_tps, tc.decode_bytes / 1e6, tc.decode_bytes * decode_tps / 1e9,
                    100 * decode_cpu, nthreads);
        // The rest of decode's wall time ran on the calling thread alone (norms, routing, the
        // small products below the pool's threshold, ...): time the other threads wait.
        const auto ps = model->pool().stats();
        const double par = ps.parallel_seconds - probe_parallel;
        std::printf("decode threads  %.1f%% of the wall time in parallel sections (%.1f per token), %.2f ms per token "
                    "on one thread\n",
                    100 * par / s, double(ps.parallel_calls - probe_calls) / double(gen_n), 1e3 * (s - par) / double(gen_n));
        if (probe) {
            const double bw = probe->mean_gbs();
            std::printf("machine during  streaming read %.1f GB/s between the decode steps (128 MB before each): "
                        "decode at %.0f%% of it\n",
                        bw, 100 * tc.decode_bytes * decode_tps / 1e9 / bw);
            std::printf("RESULT machine_during bandwidth_during_gbs=%.2f\n", bw);
        }
    }
    if (machine && gen_n > 0) {
        // Again after decode (the readings before and after show how much the host moved).
        const double bw_after = measure_read_bandwidth(model->pool());
        std::printf("machine after   streaming read %.1f GB/s\n", bw_after);
        std::printf("RESULT machine_after bandwidth_after_gbs=%.2f\n", bw_after);
    }
    std::printf("RESULT model numerics=%s prompt=%lld prefill_tps=%.2f prefill_gflops=%.2f decode_tps=%.2f decode_mb=%.1f "
                "decode_gbs=%.2f prefill_cpu=%.2f decode_cpu=%.2f\n",
                numerics_name(numerics), (long long)prompt_n, prefill_tps, prefill_gflops, decode_tps, tc.decode_bytes / 1e6,
                tc.decode_bytes * decode_tps / 1e9, prefill_cpu, decode_cpu);
    return 0;
}

}  // namespace dsv4::cli
