#include "io/random_init.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

namespace dsv4 {

namespace {

uint64_t splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t hash_name(const std::string& s) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
    return h;
}

// Uniform in [-a, a): element i of the tensor is a pure function of (seed, name, i), so the
// result does not depend on the thread count.
SourceTensor uniform(const std::string& name, std::vector<int64_t> shape, float a, uint64_t seed) {
    SourceTensor t;
    t.name = name;
    t.shape = std::move(shape);
    const uint64_t key = splitmix(seed ^ hash_name(name));
    int64_t n = 1;
    for (auto d : t.shape) n *= d;
    t.fill = [key, a, n](ThreadPool& pool, float* dst) {
        pool.parallel_for(n, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) {
                const uint64_t r = splitmix(key + uint64_t(i));
                dst[i] = a * (float(int64_t(r >> 40)) * 0x1p-23f - 1.0f);  // 24 random bits -> [-1, 1)
            }
        }, 1 << 16);
    };
    return t;
}

SourceTensor constant(const std::string& name, std::vector<int64_t> shape, float v) {
    SourceTensor t;
    t.name = name;
    t.shape = std::move(shape);
    int64_t n = 1;
    for (auto d : t.shape) n *= d;
    t.fill = [n, v](ThreadPool&, float* dst) { std::fill(dst, dst + n, v); };
    return t;
}

// Uniform with variance 1/in: keeps x -> W x at unit scale.
SourceTensor linear(const std::string& prefix, int64_t out, int64_t in, uint64_t seed) {
    return uniform(prefix + ".weight", {out, in}, std::sqrt(3.0f / float(in)), seed);
}

}  // namespace

std::vector<SourceTensor> random_sources(const ModelConfig& c, uint64_t seed) {
    std::vector<SourceTensor> ts;
    const int64_t D = c.hidden_size, V = c.vocab_size, n = c.hc_mult, H = c.num_attention_heads, d = c.head_dim;
    const int64_t E = c.n_routed_experts, k = c.num_experts_per_tok, I = c.moe_intermediate_size;
    ts.push_back(uniform("embed.weight", {V, D}, 1.0f, seed));
    if (!c.tie_word_embeddings) ts.push_back(linear("head", V, D, seed));
    ts.push_back(constant("norm.weight", {D}, 1.0f));
    auto hc = [&](const std::string& p, int64_t rows, int64_t nscale) {
        ts.push_back(uniform(p + "fn", {rows, n * D}, 0.5f / std::sqrt(float(n * D)), seed));
        ts.push_back(uniform(p + "base", {rows}, 0.1f, seed));
        ts.push_back(constant(p + "scale", {nscale}, 1.0f));
    };
    hc("hc_head_", n, 1);
    auto compressor = [&](const std::string& p, int64_t ratio, int64_t dim, int64_t coff) {
        ts.push_back(linear(p + "wkv", coff * dim, D, seed));
        ts.push_back(linear(p + "wgate", coff * dim, D, seed));
        ts.push_back(uniform(p + "ape", {ratio, coff * dim}, 0.1f, seed));
        ts.push_back(constant(p + "norm.weight", {dim}, 1.0f));
    };
    auto expert = [&](const std::string& p, int64_t inter) {
        ts.push_back(linear(p + "w1", inter, D, seed));
        ts.push_back(linear(p + "w2", D, inter, seed));
        ts.push_back(linear(p + "w3", inter, D, seed));
    };
    for (size_t i = 0; i < c.layers.size(); ++i) {
        const auto& spec = c.layers[i];
        const std::string p = "layers." + std::to_string(i) + ".";
        ts.push_back(constant(p + "attn_norm.weight", {D}, 1.0f));
        ts.push_back(constant(p + "ffn_norm.weight", {D}, 1.0f));
        hc(p + "hc_attn_", (2 + n) * n, 3);
        hc(p + "hc_ffn_", (2 + n) * n, 3);
        const std::string a = p + "attn.";
        ts.push_back(linear(a + "wq_a", c.q_lora_rank, D, seed));
        ts.push_back(constant(a + "q_norm.weight", {c.q_lora_rank}, 1.0f));
        ts.push_back(linear(a + "wq_b", H * d, c.q_lora_rank, seed));
        ts.push_back(linear(a + "wkv", d, D, seed));
        ts.push_back(constant(a + "kv_norm.weight", {d}, 1.0f));
        ts.push_back(linear(a + "wo_a", c.o_groups * c.o_lora_rank, H * d / c.o_groups, seed));
        ts.push_back(linear(a + "wo_b", D, c.o_groups * c.o_lora_rank, seed));
        ts.push_back(constant(a + "attn_sink", {H}, 0.0f));
        if (spec.attn != AttnType::Sliding)
            compressor(a + "compressor.", spec.compress_ratio, d, spec.attn == AttnType::CSA ? 2 : 1);
        if (spec.attn == AttnType::CSA) {
            ts.push_back(linear(a + "indexer.wq_b", c.index_n_heads * c.index_head_dim, c.q_lora_rank, seed));
            ts.push_back(linear(a + "indexer.weights_proj", c.index_n_heads, D, seed));
            compressor(a + "indexer.compressor.", spec.compress_ratio, c.index_head_dim, 2);
        }
        const std::string f = p + "ffn.";
        ts.push_back(linear(f + "gate", E, D, seed));
        if (spec.hash_moe) {
            // k distinct experts per token id
            SourceTensor t;
            t.name = f + "gate.tid2eid";
            t.shape = {V, k};
            t.is_float = false;
            t.dtype = DType::I32;
            const uint64_t key = splitmix(seed ^ hash_name(t.name));
            t.raw = [=] {
                std::vector<uint8_t> b(size_t(V * k * 4));
                for (int64_t v = 0; v < V; ++v) {
                    const int64_t off = int64_t(splitmix(key + uint64_t(v)) % uint64_t(E));
                    for (int64_t j = 0; j < k; ++j) {
                        const int32_t e = int32_t((off + j) % E);
                        std::memcpy(b.data() + 4 * (v * k + j), &e, 4);
                    }
                }
                return b;
            };
            ts.push_back(std::move(t));
        } else {
            ts.push_back(constant(f + "gate.bias", {E}, 0.0f));
        }
        for (int64_t e = 0; e < E; ++e) expert(f + "experts." + std::to_string(e) + ".", I);
        if (c.n_shared_experts > 0) expert(f + "shared_experts.", I * c.n_shared_experts);
    }
    return ts;
}

}  // namespace dsv4
