// Matrix products against stored weights (F32 / BF16 / F16 / FP8 block-scaled / MXFP4), fp32
// accumulation. Weights are dequantized inside the kernels, never as a whole.
//
// Kernels: a portable scalar path (the reference) and AVX2 / AVX-512 paths, chosen at run time
// by CPUID (DSV4_ISA=scalar|avx2|avx512 in the environment caps the choice). T == 1 runs a fused
// dequantize-and-dot per row (bandwidth bound); T > 1 packs blocks of tokens, dequantizes a few
// rows at a time and broadcasts each weight against vectors of tokens (compute bound); see
// matmul_simd.inc and bench/README.md "CPU kernels".
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/cpu/threadpool.h"
#include "model/weights.h"

namespace dsv4 {

enum class Isa : uint8_t { Scalar, Avx2, Avx512 };
const char* isa_name(Isa isa);
bool isa_supported(Isa isa);  // by this CPU
Isa best_isa();               // the best supported one (capped by DSV4_ISA), fixed for the process
// The kernel set's name as it runs here: the ISA, plus "+vnni" where AVX-512 int8 products use VNNI
// and "+bf16" where official-numerics gemvs use AVX512_BF16 dot products.
const char* kernels_name(Isa isa);

// Row `row` of W as fp32 (in values) into out.
void dequant_row(const Linear& W, int64_t row, float* out);

// y[t*ldy + (o - row_begin)] = sum_i W[o, i] * x[t*ldx + i] for t < T, o in [row_begin, row_end).
// row_end < 0 means W.out. Threads split the rows.
void matmul(ThreadPool& pool, const Linear& W, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t T,
            int64_t row_begin = 0, int64_t row_end = -1);
// The same with a given kernel set (tests compare every SIMD path with Isa::Scalar); throws if
// this CPU lacks it.
void matmul(ThreadPool& pool, const Linear& W, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t T,
            int64_t row_begin, int64_t row_end, Isa isa);
// The same on the calling thread only (for callers that parallelise over something else).
void matmul_serial(const Linear& W, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t T,
                   int64_t row_begin = 0, int64_t row_end = -1);

// Several independent products in one pass of the pool: fewer synchronisations, and the rows of
// all of them balanced over the threads together. Each job computes what matmul() would.
struct MatmulJob {
    const Linear* W;
    const float* x;
    int64_t ldx;
    float* y;
    int64_t ldy;
    int64_t T;
    int64_t row_begin = 0, row_end = -1;
    // Numerics::Int8: a matrix-vector product (T == 1) with an MXFP4 W (blocks of 32, in % 32 == 0)
    // rounds x per 32 columns (quantize_q8) and multiplies in integers: not exact, and faster where
    // decoding FP4 to fp32 is the bottleneck (decode). Products over several tokens (prefill) and
    // other formats ignore it: there the fp32 GEMM is as fast.
    bool x_int8 = false;
};
void matmul_batch(ThreadPool& pool, std::span<const MatmulJob> jobs, Isa isa = best_isa());

// Whether a product with x_int8 set takes the int8 path (MXFP4 in whole blocks of 32, T == 1).
bool q8_applies(const Linear& W, int64_t T);
// x (n % 32 == 0) per block of 32: d = max|x| / 127, q = round(x / d) (ties to even, in
// [-127, 127]); all zeros: d = 0; an Inf or NaN in the block: d = NaN and q = 0.
void quantize_q8(const float* x, int64_t n, int8_t* q, float* d);

// Same as matmul with contiguous rows: x [T, W.in] -> y [T, W.out].
inline void linear(ThreadPool& pool, const Linear& W, const float* x, float* y, int64_t T) {
    matmul(pool, W, x, W.in, y, W.out, T);
}

float dot_f32(const float* a, const float* b, int64_t n);

// Attention over rows gathered by pointer (the window's keys and the chosen compressed entries),
// on the calling thread. Each key row is read once for all H queries / outputs:
//   attn_dots:  s[h*lds + j] = q[h*ldq + :] . k[j][:]              (h < H, j < n, d columns)
//   attn_axpys: o[h*ldo + :] += sum_j p[h*ldp + j] * v[j][:]
void attn_dots(const float* q, int64_t ldq, int64_t H, const float* const* k, int64_t n, int64_t d, float* s,
               int64_t lds, Isa isa = best_isa());
void attn_axpys(const float* p, int64_t ldp, int64_t H, const float* const* v, int64_t n, int64_t d, float* o,
                int64_t ldo, Isa isa = best_isa());

}  // namespace dsv4
