// Small fp32 element-wise pieces shared by the blocks.
#pragma once
#include <cmath>
#include <cstdint>
#include <span>

#include "io/config.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/rounding.h"
#include "kernels/cpu/threadpool.h"
#include "model/weights.h"

namespace dsv4::ops {

inline bool official(const ModelConfig& c) { return c.numerics == Numerics::Official; }
// bf16 storage of an intermediate under official numerics; nothing in fp32.
inline void round_bf16(const ModelConfig& c, float* x, int64_t n) {
    if (official(c)) rnd::bf16_inplace(x, n);
}

// How a linear layer rounds under official numerics (rule 1 of "Official numerics"):
//   Quantized: FP8/FP4 weights get their input QDQ8(x, 128) per row; output bf16.
//   Bf16:      bf16 matmul (no activation quantization); output bf16 (wo_a, indexer weights_proj).
//   F32:       fp32 (compressors, router, head, hc).
// In fp32 numerics all three are the plain matmul.
enum class Proj { Quantized, Bf16, F32 };
void project(ThreadPool& pool, const ModelConfig& c, const Linear& W, const float* x, int64_t ldx, float* y, int64_t ldy,
             int64_t T, Proj kind, int64_t row_begin = 0, int64_t row_end = -1);
inline void project(ThreadPool& pool, const ModelConfig& c, const Linear& W, const float* x, float* y, int64_t T,
                    Proj kind = Proj::Quantized) {
    project(pool, c, W, x, W.in, y, W.out, T, kind);
}
// Independent projections in one pass of the pool (each as project() computes it): a product
// (kernels/cpu/matmul.h MatmulJob) and how it rounds.
struct ProjJob {
    MatmulJob mm;
    Proj kind = Proj::Quantized;
};
void project_many(ThreadPool& pool, const ModelConfig& c, std::span<const ProjJob> jobs);

// x / sqrt(mean(x^2) + eps), times w if given (dsv4-model.md notation: rms, RMSNorm).
// The sum of squares in double (each square exact), in 8 interleaved partial sums: a serial chain
// of n dependent additions would take ~4n cycles (decode norms 8192 values per hyper-connection).
inline void rms_norm(const float* x, const float* w, float* out, int64_t n, double eps) {
    double part[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) part[k] += double(x[i + k]) * double(x[i + k]);
    for (; i < n; ++i) part[0] += double(x[i]) * double(x[i]);
    const double ss = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
    float inv = float(1.0 / std::sqrt(ss / double(n) + eps));
    if (w)
        for (int64_t j = 0; j < n; ++j) out[j] = w[j] * (x[j] * inv);
    else
        for (int64_t j = 0; j < n; ++j) out[j] = x[j] * inv;
}

// x <- first n of (H / sqrt(P)) [x, 0...] with H the Sylvester Hadamard matrix of size P, the
// next power of two >= n (official numerics rule 5).
void hadamard_rotate(float* x, int64_t n);
// Official numerics: bf16 storage, then QDQ8 (blocks of 64) on the first dim - rope_dim channels of
// a kv vector (window kv and main compressor entries, rule 3). Rope dims stay bf16.
void round_kv(const ModelConfig& c, float* kv, int64_t dim);
// Official numerics: the indexer's q and keys: Hadamard, bf16, then QDQ4 in blocks of 32 (rule 5).
void round_index_vector(const ModelConfig& c, float* x, int64_t dim);

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
// torch.nn.functional.softplus (beta 1, threshold 20).
inline float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

}  // namespace dsv4::ops
