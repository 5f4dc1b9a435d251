// The DeepSeek-V4 weights as views into the mapped checkpoint (nothing large is copied).
// Names follow the official checkpoint (dsv4-model.md "Checkpoint names").
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "io/dtype.h"

namespace dsv4 {

// A [out, in] matrix in its stored format; the kernels dequantize it on the fly.
//  F32 / BF16 / F16: plain rows.
//  F8_E4M3: one scale per block_out x block_in block (128 x 128), scale F8_E8M0 or F32.
//  FP4 (stored I8): two E2M1 codes per byte (low nibble = even column), one E8M0 scale per 32 inputs.
struct Linear {
    enum class Format : uint8_t { F32, BF16, F16, FP8, FP4 };
    std::string name;
    Format format = Format::F32;
    int64_t out = 0, in = 0;
    const uint8_t* data = nullptr;
    int64_t row_bytes = 0;
    const uint8_t* scale = nullptr;
    DType scale_dtype = DType::F8_E8M0;
    int64_t scale_cols = 0;            // scale row stride, in entries
    int64_t block_out = 1, block_in = 1;

    bool valid() const { return data != nullptr; }
    float scale_at(int64_t row, int64_t col) const {
        size_t i = size_t((row / block_out) * scale_cols + col / block_in);
        return scale_dtype == DType::F32 ? reinterpret_cast<const float*>(scale)[i] : e8m0_to_f32(scale[i]);
    }
    // Bytes of the stored weight (and its scales): what a matmul over all rows reads.
    int64_t bytes() const;
};
const char* format_name(Linear::Format f);

struct HyperConnWeights {  // mHC of one sublayer (hc_attn_* / hc_ffn_*), or the head (hc_head_*)
    Linear fn;                    // [(2+n)*n, n*D] (head: [n, n*D])
    std::vector<float> base;      // (2+n)*n (head: n)
    std::vector<float> scale;     // 3 (head: 1)
};

struct CompressorWeights {  // attn.compressor or attn.indexer.compressor
    Linear wkv, wgate;        // [c*dim, D]; c = 2 for CSA (overlapping windows), 1 for HCA
    std::vector<float> ape;   // [m, c*dim]
    std::vector<float> norm;  // [dim]
    int64_t ratio = 0, dim = 0, coff = 1;
};

struct AttentionWeights {
    Linear wq_a, wq_b, wkv, wo_a, wo_b;
    std::vector<float> q_norm, kv_norm, attn_sink;
    bool has_compressor = false, has_indexer = false;
    CompressorWeights compressor;
    struct {
        Linear wq_b, weights_proj;
        CompressorWeights compressor;
    } indexer;
};

struct ExpertWeights {
    Linear w1, w2, w3;  // w2 @ (silu(min(w1 x, L)) * clamp(w3 x, -L, L))
};

struct MoEWeights {
    Linear gate;                  // [E, D] router
    std::vector<float> bias;      // [E], top-k layers: added for choosing only
    std::vector<int32_t> tid2eid; // [V, k], hash layers
    std::vector<ExpertWeights> experts;
    bool has_shared = false;
    ExpertWeights shared;
};

struct LayerWeights {
    std::vector<float> attn_norm, ffn_norm;
    HyperConnWeights hc_attn, hc_ffn;
    AttentionWeights attn;
    MoEWeights ffn;
};

struct ModelWeights {
    Linear embed, head;
    std::vector<float> norm;
    HyperConnWeights hc_head;
    std::vector<LayerWeights> layers;
    std::vector<std::string> unused;  // tensors in the checkpoint the forward pass does not read

    // Checks every tensor the config implies (presence, dtype, shape) and builds the views.
    // Throws std::runtime_error naming the tensor (and its file) at fault.
    static ModelWeights load(const Checkpoint& ckpt);
};

}  // namespace dsv4
