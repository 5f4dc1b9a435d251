// Mixture of experts (dsv4-model.md "MoE"): s = sqrt(softplus(gate @ x)); top-k by s + bias
// (bias only for choosing) or hash routing by gate.tid2eid[token]; weights = chosen s / their sum
// * routed_scaling_factor. Each expert runs only on the tokens routed to it; the shared expert on all.
#include <algorithm>
#include <cmath>

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

// out[r] = w2 @ (silu(min(w1 x, L)) * clamp(w3 x, -L, L)) for rows x [n, D]. Under official
// numerics the routing weight of row r (gate, or nullptr for 1) multiplies the activation BEFORE
// w2 (rule 6), so it enters w2's input quantization; in fp32 the caller weights the output.
static void expert_forward(ThreadPool& pool, const ModelConfig& c, const ExpertWeights& e, const float* x, int64_t n,
                           float* out, const float* gate = nullptr) {
    const int64_t I = e.w1.out;
    std::vector<float> h1(size_t(n * I)), h3(size_t(n * I));
    ops::project(pool, c, e.w1, x, h1.data(), n);
    ops::project(pool, c, e.w3, x, h3.data(), n);
    const float L = float(c.swiglu_limit);
    for (size_t i = 0; i < h1.size(); ++i) {
        float g = h1[i], u = h3[i];
        if (L > 0) {
            g = std::min(g, L);
            u = std::clamp(u, -L, L);
        }
        h1[i] = ops::silu(g) * u;
    }
    if (gate)
        for (int64_t r = 0; r < n; ++r)
            for (int64_t i = 0; i < I; ++i) h1[size_t(r * I + i)] *= gate[r];
    ops::round_bf16(c, h1.data(), n * I);
    ops::project(pool, c, e.w2, h1.data(), out, n);
}

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
    std::fill(out, out + T * D, 0.0f);
    std::vector<float> xs, ys, gs;
    for (int64_t e = 0; e < E; ++e) {
        const auto& list = routed[size_t(e)];
        if (list.empty()) continue;
        const int64_t n = int64_t(list.size());
        xs.resize(size_t(n * D));
        ys.resize(size_t(n * D));
        gs.resize(size_t(n));
        for (int64_t r = 0; r < n; ++r) {
            std::copy_n(x + list[size_t(r)].first * D, D, xs.data() + r * D);
            gs[size_t(r)] = list[size_t(r)].second;
        }
        expert_forward(pool, c, w.experts[size_t(e)], xs.data(), n, ys.data(), official ? gs.data() : nullptr);
        for (int64_t r = 0; r < n; ++r) {
            float* o = out + list[size_t(r)].first * D;
            const float g = official ? 1.0f : list[size_t(r)].second;
            for (int64_t i = 0; i < D; ++i) o[i] += g * ys[size_t(r * D + i)];
        }
    }
    if (w.has_shared) {
        ys.resize(size_t(T * D));
        expert_forward(pool, c, w.shared, x, T, ys.data());
        for (int64_t i = 0; i < T * D; ++i) out[i] += ys[size_t(i)];
    }
    ops::round_bf16(c, out, T * D);  // official: fp32 sum of bf16 expert outputs, stored bf16
}

}  // namespace dsv4
