#include "model/weights.h"

#include <cstring>
#include <set>
#include <stdexcept>

namespace dsv4 {

const char* format_name(Linear::Format f) {
    switch (f) {
        case Linear::Format::F32: return "F32";
        case Linear::Format::BF16: return "BF16";
        case Linear::Format::F16: return "F16";
        case Linear::Format::FP8: return "FP8 E4M3 (128x128 block scales)";
        case Linear::Format::FP4: return "MXFP4 E2M1 (scale per 32)";
    }
    return "?";
}

int64_t Linear::bytes() const {
    int64_t b = row_bytes * out;
    if (scale) {
        int64_t srows = (out + block_out - 1) / block_out;
        b += srows * scale_cols * (scale_dtype == DType::F32 ? 4 : 1);
    }
    return b;
}

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
}

class Loader {
public:
    explicit Loader(const Checkpoint& c) : ck_(c) {}

    const TensorView& get(const std::string& name) {
        const TensorView* t = ck_.find(name);
        if (!t) throw std::runtime_error(ck_.dir() + ": missing tensor '" + name + "' (required by config.json)");
        used_.insert(name);
        return *t;
    }
    bool has(const std::string& name) const { return ck_.find(name) != nullptr; }

    [[noreturn]] void bad(const TensorView& t, const std::string& what) {
        throw std::runtime_error(t.file + ": tensor '" + t.name + "': " + what);
    }
    void expect_shape(const TensorView& t, const std::vector<int64_t>& shape) {
        if (t.shape != shape) bad(t, "shape " + t.shape_str() + ", expected " + shape_str(shape));
    }

    std::vector<float> vec(const std::string& name, std::vector<int64_t> shape) {
        const auto& t = get(name);
        expect_shape(t, shape);
        std::vector<float> v(size_t(t.numel()));
        for (size_t i = 0; i < v.size(); ++i) {
            switch (t.dtype) {
                case DType::F32: { float f; std::memcpy(&f, t.data + 4 * i, 4); v[i] = f; break; }
                case DType::BF16: { uint16_t h; std::memcpy(&h, t.data + 2 * i, 2); v[i] = bf16_to_f32(h); break; }
                case DType::F16: { uint16_t h; std::memcpy(&h, t.data + 2 * i, 2); v[i] = f16_to_f32(h); break; }
                default: bad(t, std::string("dtype ") + dtype_name(t.dtype) + ", expected F32, BF16 or F16");
            }
        }
        return v;
    }

    Linear linear(const std::string& prefix, int64_t out, int64_t in) {
        return linear_tensor(prefix + ".weight", prefix, out, in);
    }
    // `name` is the weight tensor; a quantized one has its scale at `prefix + ".scale"`.
    Linear linear_tensor(const std::string& name, const std::string& prefix, int64_t out, int64_t in) {
        const auto& t = get(name);
        Linear L;
        L.name = name;
        L.out = out;
        L.in = in;
        L.data = t.data;
        auto need_scale = [&](int64_t bo, int64_t bi) {
            const std::string sn = prefix + ".scale";
            if (!has(sn)) bad(t, std::string(dtype_name(t.dtype)) + " weight without its scale tensor '" + sn + "'");
            const auto& s = get(sn);
            std::vector<int64_t> want = {(out + bo - 1) / bo, (in + bi - 1) / bi};
            if (s.dtype != DType::F8_E8M0 && s.dtype != DType::F32)
                bad(s, std::string("scale dtype ") + dtype_name(s.dtype) + ", expected F8_E8M0 or F32");
            expect_shape(s, want);
            L.scale = s.data;
            L.scale_dtype = s.dtype;
            L.scale_cols = want[1];
            L.block_out = bo;
            L.block_in = bi;
        };
        switch (t.dtype) {
            case DType::F32: L.format = Linear::Format::F32; L.row_bytes = 4 * in; expect_shape(t, {out, in}); break;
            case DType::BF16: L.format = Linear::Format::BF16; L.row_bytes = 2 * in; expect_shape(t, {out, in}); break;
            case DType::F16: L.format = Linear::Format::F16; L.row_bytes = 2 * in; expect_shape(t, {out, in}); break;
            case DType::F8_E4M3:
                L.format = Linear::Format::FP8;
                L.row_bytes = in;
                expect_shape(t, {out, in});
                need_scale(128, 128);
                break;
            case DType::I8:
            case DType::U8:
                if (in % 2) bad(t, "FP4 (packed I8) weight with an odd input width " + std::to_string(in));
                L.format = Linear::Format::FP4;
                L.row_bytes = in / 2;
                expect_shape(t, {out, in / 2});
                need_scale(1, 32);
                break;
            default: bad(t, std::string("dtype ") + dtype_name(t.dtype) + " is not a supported weight type");
        }
        return L;
    }

    std::vector<int32_t> ints(const std::string& name, std::vector<int64_t> shape, int64_t limit) {
        const auto& t = get(name);
        expect_shape(t, shape);
        const std::vector<int64_t> all = t.ints();
        std::vector<int32_t> v(all.size());
        for (size_t i = 0; i < v.size(); ++i) {
            const int64_t x = all[i];
            if (x < 0 || x >= limit)
                bad(t, "entry " + std::to_string(i) + " = " + std::to_string(x) + " is outside 0.." + std::to_string(limit - 1));
            v[i] = int32_t(x);
        }
        return v;
    }

    std::vector<std::string> unused() const {
        std::vector<std::string> out;
        for (auto& [name, t] : ck_.tensors())
            if (!used_.count(name)) out.push_back(name);
        return out;
    }

private:
    const Checkpoint& ck_;
    std::set<std::string> used_;
};

HyperConnWeights load_hc(Loader& ld, const std::string& p, int64_t rows, int64_t nD, int64_t nscale) {
    HyperConnWeights h;
    h.fn = ld.linear_tensor(p + "fn", p + "fn", rows, nD);  // a bare tensor, no ".weight"
    h.base = ld.vec(p + "base", {rows});
    h.scale = ld.vec(p + "scale", {nscale});
    return h;
}

CompressorWeights load_compressor(Loader& ld, const std::string& p, int64_t ratio, int64_t dim, int64_t coff, int64_t D) {
    CompressorWeights c;
    c.ratio = ratio;
    c.dim = dim;
    c.coff = coff;
    c.wkv = ld.linear(p + "wkv", coff * dim, D);
    c.wgate = ld.linear(p + "wgate", coff * dim, D);
    c.ape = ld.vec(p + "ape", {ratio, coff * dim});
    c.norm = ld.vec(p + "norm.weight", {dim});
    return c;
}

ExpertWeights load_expert(Loader& ld, const std::string& p, int64_t inter, int64_t D) {
    return {ld.linear(p + "w1", inter, D), ld.linear(p + "w2", D, inter), ld.linear(p + "w3", inter, D)};
}

}  // namespace

ModelWeights ModelWeights::load(const Checkpoint& ck) {
    const auto& c = ck.config();
    Loader ld(ck);
    ModelWeights w;
    const int64_t D = c.hidden_size, V = c.vocab_size, n = c.hc_mult, H = c.num_attention_heads, d = c.head_dim;
    w.embed = ld.linear("embed", V, D);
    if (c.tie_word_embeddings && !ld.has("head.weight")) w.head = w.embed;
    else w.head = ld.linear("head", V, D);
    w.norm = ld.vec("norm.weight", {D});
    w.hc_head = load_hc(ld, "hc_head_", n, n * D, 1);
    w.layers.resize(c.layers.size());
    for (size_t i = 0; i < c.layers.size(); ++i) {
        const auto& spec = c.layers[i];
        auto& L = w.layers[i];
        const std::string p = "layers." + std::to_string(i) + ".";
        L.attn_norm = ld.vec(p + "attn_norm.weight", {D});
        L.ffn_norm = ld.vec(p + "ffn_norm.weight", {D});
        L.hc_attn = load_hc(ld, p + "hc_attn_", (2 + n) * n, n * D, 3);
        L.hc_ffn = load_hc(ld, p + "hc_ffn_", (2 + n) * n, n * D, 3);
        auto& A = L.attn;
        const std::string a = p + "attn.";
        A.wq_a = ld.linear(a + "wq_a", c.q_lora_rank, D);
        A.q_norm = ld.vec(a + "q_norm.weight", {c.q_lora_rank});
        A.wq_b = ld.linear(a + "wq_b", H * d, c.q_lora_rank);
        A.wkv = ld.linear(a + "wkv", d, D);
        A.kv_norm = ld.vec(a + "kv_norm.weight", {d});
        A.wo_a = ld.linear(a + "wo_a", c.o_groups * c.o_lora_rank, H * d / c.o_groups);
        A.wo_b = ld.linear(a + "wo_b", D, c.o_groups * c.o_lora_rank);
        A.attn_sink = ld.vec(a + "attn_sink", {H});
        if (spec.attn != AttnType::Sliding) {
            A.has_compressor = true;
            int64_t coff = spec.attn == AttnType::CSA ? 2 : 1;
            A.compressor = load_compressor(ld, a + "compressor.", spec.compress_ratio, d, coff, D);
        }
        if (spec.attn == AttnType::CSA) {
            A.has_indexer = true;
            A.indexer.wq_b = ld.linear(a + "indexer.wq_b", c.index_n_heads * c.index_head_dim, c.q_lora_rank);
            A.indexer.weights_proj = ld.linear(a + "indexer.weights_proj", c.index_n_heads, D);
            A.indexer.compressor =
                load_compressor(ld, a + "indexer.compressor.", spec.compress_ratio, c.index_head_dim, 2, D);
        }
        auto& F = L.ffn;
        const std::string f = p + "ffn.";
        F.gate = ld.linear(f + "gate", c.n_routed_experts, D);
        if (spec.hash_moe) F.tid2eid = ld.ints(f + "gate.tid2eid", {V, c.num_experts_per_tok}, c.n_routed_experts);
        else F.bias = ld.vec(f + "gate.bias", {c.n_routed_experts});
        F.experts.reserve(size_t(c.n_routed_experts));
        for (int64_t e = 0; e < c.n_routed_experts; ++e)
            F.experts.push_back(load_expert(ld, f + "experts." + std::to_string(e) + ".", c.moe_intermediate_size, D));
        if (c.n_shared_experts > 0) {
            F.has_shared = true;
            F.shared = load_expert(ld, f + "shared_experts.", c.moe_intermediate_size * c.n_shared_experts, D);
        }
    }
    w.unused = ld.unused();
    return w;
}

}  // namespace dsv4
