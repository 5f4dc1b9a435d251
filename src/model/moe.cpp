// Mixture of experts (dsv4-model.md "MoE"): s = sqrt(softplus(gate @ x)); top-k by s + bias
// (bias only for choosing) or hash routing by gate.tid2eid[token]; weights = chosen s / their sum
// * routed_scaling_factor. Each expert runs only on the tokens routed to it; the shared expert on all.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/matmul.h"
#include "model/model.h"
#include "model/ops.h"

namespace dsv4 {

void moe_route(ThreadPool& pool, const ModelConfig& c, const LayerSpec& spec, const MoEWeights& w, const float* x,
               const int32_t* tokens, int64_t T, std::vector<int32_t>& experts, std::vector<float>& weights) {
    const int64_t E = c.n_routed_experts, k = c.num_experts_per_tok;
    std::vector<float> s(size_t(T * E));
    linear(pool, w.gate, x, s.data(), T);
    for (auto& v : s) v = std::sqrt(ops::softplus(v));
    experts.assign(size_t(T * k), 0);
    weights.assign(size_t(T * k), 0.0f);
    std::vector<float> choice(static_cast<size_t>(E));
    for (int64_t t = 0; t < T; ++t) {
        const float* st = s.data() + t * E;
        int32_t* ex = experts.data() + t * k;
        if (spec.hash_moe) {
            std::copy_n(w.tid2eid.data() + int64_t(tokens[t]) * k, k, ex);
        } else {
            for (int64_t e = 0; e < E; ++e) choice[size_t(e)] = st[e] + w.bias[size_t(e)];
            auto top = topk_indices(choice.data(), E, k);
            std::copy(top.begin(), top.end(), ex);
        }
        float sum = 0;
        for (int64_t j = 0; j < k; ++j) sum += st[ex[j]];
        const float norm = c.norm_topk_prob ? 1.0f / (sum + 1e-20f) : 1.0f;
        for (int64_t j = 0; j < k; ++j)
            weights[size_t(t * k + j)] = st[ex[j]] * norm * float(c.routed_scaling_factor);
    }
}

namespace {

// The experts of one MoE call (routed ones on their tokens, the shared one on all), run together:
// every expert's w1 and w3 products in one matmul_batch, the SwiGLU, then every w2 in a second
// one. Two pool passes per layer instead of three per expert, and the threads stay balanced
// however few tokens each expert has (decode: one).
struct ExpertTask {
    const ExpertWeights* w;
    const float* x;  // [n, D] (official numerics: QDQ8'd for quantized experts, moe_forward)
    int64_t n;
    float* out;      // [n, D]
    const float* gate = nullptr;  // official numerics: per-row routing weights applied before w2
    std::vector<float> h1, h3;
};

bool quantized(const Linear& W) { return W.format == Linear::Format::FP8 || W.format == Linear::Format::FP4; }

// Official numerics rule 1: the input of an FP8/FP4 matmul is QDQ8(., 128) per row.
void qdq8_rows(float* x, int64_t rows, int64_t width) {
    for (int64_t r = 0; r < rows; ++r) rnd::qdq8(x + r * width, width, 128);
}

void run_experts(ThreadPool& pool, const ModelConfig& c, std::vector<ExpertTask>& tasks) {
    const bool official = ops::official(c);
    const bool int8 = c.numerics == Numerics::Int8;  // the MXFP4 experts' activations (matmul.h)
    // phase 1: h1 = w1 x, h3 = w3 x, every expert's two products in one pass of the pool
    std::vector<MatmulJob> jobs;
    for (auto& t : tasks) {
        const int64_t I = t.w->w1.out;
        t.h1.resize(size_t(t.n * I));
        t.h3.resize(size_t(t.n * I));
        jobs.push_back({&t.w->w1, t.x, t.w->w1.in, t.h1.data(), I, t.n, 0, -1, int8});
        jobs.push_back({&t.w->w3, t.x, t.w->w3.in, t.h3.data(), I, t.n, 0, -1, int8});
    }
    matmul_batch(pool, jobs);
    // SwiGLU. Official numerics (rule 6): w1/w3 outputs bf16; clamp, silu and product in fp32,
    // times the routing weight BEFORE w2 (so it enters w2's input quantization), stored bf16.
    const float L = float(c.swiglu_limit);
    for (auto& t : tasks) {
        ops::round_bf16(c, t.h1.data(), int64_t(t.h1.size()));
        ops::round_bf16(c, t.h3.data(), int64_t(t.h3.size()));
        ew::swiglu(t.h1.data(), t.h3.data(), int64_t(t.h1.size()), L);
        const int64_t I = t.w->w1.out;
        if (t.gate)
            for (int64_t r = 0; r < t.n; ++r)
                for (int64_t i = 0; i < I; ++i) t.h1[size_t(r * I + i)] *= t.gate[r];
        ops::round_bf16(c, t.h1.data(), int64_t(t.h1.size()));
        if (official && quantized(t.w->w2)) qdq8_rows(t.h1.data(), t.n, I);
    }
    // phase 2: out = w2 h, all experts in one pass
    jobs.clear();
    for (auto& t : tasks) jobs.push_back({&t.w->w2, t.h1.data(), t.w->w2.in, t.out, t.w->w2.out, t.n, 0, -1, int8});
    matmul_batch(pool, jobs);
    for (auto& t : tasks) ops::round_bf16(c, t.out, t.n * t.w->w2.out);
}

}  // namespace

void moe_forward(ThreadPool& pool, const ModelConfig& c, const LayerSpec& spec, const MoEWeights& w, const float* x,
                 const int32_t* tokens, int64_t T, float* out) {
    const int64_t D = c.hidden_size, E = c.n_routed_experts, k = c.num_experts_per_tok;
    std::vector<int32_t> ex;
    std::vector<float> wt;
    moe_route(pool, c, spec, w, x, tokens, T, ex, wt);
    // Group the (token, weight) pairs per expert.
    const bool official = ops::official(c);
    std::vector<std::vector<std::pair<int64_t, float>>> routed(static_cast<size_t>(E));
    for (int64_t t = 0; t < T; ++t)
        for (int64_t j = 0; j < k; ++j) {
            auto& list = routed[size_t(ex[size_t(t * k + j)])];
            // Official rule 8: a hash row naming an expert twice counts it once (the reference writes).
            if (official && !list.empty() && list.back().first == t) continue;
            list.emplace_back(t, wt[size_t(t * k + j)]);
        }
    // Official rule 1: an FP8/FP4 expert reads QDQ8(x); rounded once here for all of them.
    std::vector<float> xq;
    if (official) {
        xq.assign(x, x + T * D);
        qdq8_rows(xq.data(), T, D);
    }
    auto input_of = [&](const ExpertWeights& e) { return official && quantized(e.w1) ? xq.data() : x; };
    std::fill(out, out + T * D, 0.0f);
    // Gather each routed expert's tokens, run all experts together, then add their outputs in
    // expert order (the same order of additions whatever the threads did).
    // An expert with one token reads that token's row in place (decode: every routed expert reads
    // the same row, and matmul_batch prepares it once for all of them).
    std::vector<ExpertTask> tasks;
    std::vector<std::vector<float>> xs, ys, gs;
    std::vector<const float*> inputs;
    std::vector<int64_t> which;
    for (int64_t e = 0; e < E; ++e) {
        const auto& list = routed[size_t(e)];
        if (list.empty()) continue;
        const int64_t n = int64_t(list.size());
        ys.emplace_back(size_t(n * D));
        gs.emplace_back(static_cast<size_t>(n));
        const float* src = input_of(w.experts[size_t(e)]);
        for (int64_t r = 0; r < n; ++r) gs.back()[size_t(r)] = list[size_t(r)].second;
        if (n == 1) {
            inputs.push_back(src + list[0].first * D);
        } else {
            auto& g = xs.emplace_back(size_t(n * D));
            for (int64_t r = 0; r < n; ++r) std::copy_n(src + list[size_t(r)].first * D, D, g.data() + r * D);
            inputs.push_back(g.data());
        }
        which.push_back(e);
    }
    for (size_t i = 0; i < which.size(); ++i)
        tasks.push_back({&w.experts[size_t(which[i])], inputs[i], int64_t(routed[size_t(which[i])].size()), ys[i].data(),
                         official ? gs[i].data() : nullptr, {}, {}});
    std::vector<float> shared_out;
    if (w.has_shared) {
        shared_out.resize(size_t(T * D));
        tasks.push_back({&w.shared, input_of(w.shared), T, shared_out.data(), nullptr, {}, {}});
    }
    run_experts(pool, c, tasks);
    for (size_t i = 0; i < which.size(); ++i) {
        const auto& list = routed[size_t(which[i])];
        for (int64_t r = 0; r < int64_t(list.size()); ++r) {
            float* o = out + list[size_t(r)].first * D;
            const float g = official ? 1.0f : list[size_t(r)].second;  // official: weighted before w2
            const float* y = ys[i].data() + r * D;
            for (int64_t j = 0; j < D; ++j) o[j] += g * y[j];
        }
    }
    if (w.has_shared)
        for (int64_t i = 0; i < T * D; ++i) out[i] += shared_out[size_t(i)];
    ops::round_bf16(c, out, T * D);  // official: fp32 sum of bf16 expert outputs, stored bf16
}

}  // namespace dsv4
