// The interface between the matmul dispatcher and the per-ISA kernel translation units.
// Deliberately plain data and <cstdint> only: the ISA units are compiled with their own -m flags,
// and any inline library function they instantiated could be picked by the linker for the whole
// program (running AVX-512 code on an AVX2 machine). So they include nothing but intrinsics.
#pragma once
#include <cstdint>

namespace dsv4::kern {

enum class Fmt : uint8_t { F32, BF16, F16, FP8, FP4 };

struct WView {  // a Linear, as the kernels see it
    Fmt fmt;
    int64_t out, in;
    const uint8_t* data;
    int64_t row_bytes;
    const uint8_t* scale;
    bool scale_f32;  // else F8_E8M0
    int64_t scale_cols, block_out, block_in;
};

// How reorder_x left x for the gemv: times 2^exp; and as bf16 words (T rows of `in` uint16 at
// the start of the buffer) when bf16: only where every value of x is a bf16 value that is zero or
// normal (official numerics' QDQ8 activations are) and the kernel set has a bf16 dot product for
// the format (AVX512_BF16; kernels_avx512 says which).
struct XForm {
    int exp = 0;
    bool bf16 = false;
};

// One ISA's kernels. Rows [r0, r1) of W for T tokens, on the calling thread.
struct KernelSet {
    const char* name;
    // Some kernels read x in their own column order (the order they unpack packed codes in):
    // when reorders_x says so, the caller passes x through reorder_x (out: T rows of `in`), which
    // says how it left it (XForm: only ever scaled or bf16 for the gemv; plain when T > 1).
    bool (*reorders_x)(Fmt fmt, int64_t in, int64_t block_in, int64_t T);
    XForm (*reorder_x)(Fmt fmt, const float* x, int64_t ldx, int64_t T, int64_t in, int64_t block_in, float* out);
    // T == 1: y[o - r0] = W[o, :] . x (x as reorder_x made it, with its XForm; else XForm{})
    void (*gemv)(const WView& W, const float* x, XForm xf, float* y, int64_t r0, int64_t r1);
    // T >= 1: y[t*ldy + o - r0] = W[o, :] . x[t*ldx + :]; scratch holds gemm_scratch(W.in, T) floats.
    int64_t (*gemm_scratch)(int64_t in, int64_t T);
    void (*gemm)(const WView& W, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t T, int64_t r0,
                 int64_t r1, float* scratch);
    // Attention over gathered rows (fp32, d columns each): s[h*lds + j] = q[h*ldq + :] . k[j][:]
    void (*dots)(const float* q, int64_t ldq, int64_t H, const float* const* k, int64_t n, int64_t d, float* s,
                 int64_t lds);
    // o[h*ldo + :] += sum_j p[h*ldp + j] * v[j][:]
    void (*axpys)(const float* p, int64_t ldp, int64_t H, const float* const* v, int64_t n, int64_t d, float* o,
                  int64_t ldo);
    // MXFP4 (block_in 32, in % 32 == 0) against activations rounded to int8 per 32 columns:
    // q8_order puts one token's q (natural order, `in` codes) and d (in / 32 block scales) in the
    // layout matmul_q8 reads (qout: `in` codes, dout: q8_d_stride(in) floats); matmul_q8:
    // y[t*ldy + o - r0] = sum_b d[t][b] * scale[o, b] * sum_{i in b} W[o, i] * q[t][i].
    void (*q8_order)(const int8_t* q, const float* d, int64_t in, int8_t* qout, float* dout);
    void (*matmul_q8)(const WView& W, const int8_t* q, const float* dout, int64_t T, float* y, int64_t ldy,
                      int64_t r0, int64_t r1);
};

// Helpers with internal linkage: each unit gets its own copy, built with its own flags.
namespace {

// MXFP4 columns [0, fp4_chunk_cols) are read in whole chunks of `chunk` columns (blocks of 32).
inline int64_t fp4_chunk_cols(int64_t in, int64_t block_in, int chunk) {
    return chunk > 0 && block_in == 32 ? in / chunk * chunk : 0;
}
// x in a kernel set's order. Columns [0, cend) in chunks of `chunk` (FP4: 128 for AVX-512, 64 for
// AVX2): position p of a chunk holds column chunk_col[p] of it, the order in which
// that set unpacks the chunk's codes (matmul_simd.inc says how). After them, each full group of
// `group` columns as [even columns, odd columns] (the low and high nibbles of FP4 bytes; the two
// halves of BF16 pairs); the rest keeps its order.
inline void permute_x(const float* x, int64_t ldx, int64_t T, int64_t in, int64_t cend, int chunk,
                      const uint8_t* chunk_col, int group, float* out) {
    const int64_t gend = group > 0 ? cend + (in - cend) / group * group : cend;
    for (int64_t t = 0; t < T; ++t) {
        const float* s = x + t * ldx;
        float* d = out + t * in;
        for (int64_t c = 0; c < cend; c += chunk)
            for (int p = 0; p < chunk; ++p) d[c + p] = s[c + chunk_col[p]];
        for (int64_t g = cend; g < gend; g += group)
            for (int j = 0; j < group / 2; ++j) {
                d[g + j] = s[g + 2 * j];
                d[g + group / 2 + j] = s[g + 2 * j + 1];
            }
        for (int64_t i = gend; i < in; ++i) d[i] = s[i];
    }
}

// Floats per token of q8_order's d layout.
inline int64_t q8_d_stride(int64_t in) { return in / 32 * 4; }

// Scalar element access shared by every unit (exact; the scalar path is the reference).
inline float k_bits(uint32_t u) { float f; __builtin_memcpy(&f, &u, 4); return f; }
inline float k_e8m0(uint8_t e) {
    if (e == 255) return __builtin_nanf("");
    if (e == 0) return k_bits(0x00400000u);  // 2^-127
    return k_bits(uint32_t(e) << 23);
}
inline float k_scale(const WView& W, int64_t row, int64_t col) {
    int64_t i = (row / W.block_out) * W.scale_cols + col / W.block_in;
    if (W.scale_f32) { float f; __builtin_memcpy(&f, W.scale + 4 * i, 4); return f; }
    return k_e8m0(W.scale[i]);
}
inline float k_e4m3(uint8_t b) {
    // sign | exponent+mantissa moved to the float positions, times 2^120 to rebias 7 -> 127;
    // a subnormal e4m3 becomes a subnormal float and the product is still exact.
    if ((b & 0x7f) == 0x7f) return __builtin_nanf("");
    float m = k_bits(uint32_t(b & 0x7f) << 20) * k_bits(uint32_t(127 + 120) << 23);
    return (b & 0x80) ? -m : m;
}
inline float k_e2m1(uint8_t c) {
    static constexpr float kMag[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
    return (c & 8) ? -kMag[c & 7] : kMag[c & 7];
}
inline float k_f16(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (man == 0) u = sign;
        else {
            int e = -1;
            do { man <<= 1; ++e; } while (!(man & 0x400));
            u = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) u = sign | 0x7f800000u | man << 13;
    else u = sign | (exp + 127 - 15) << 23 | man << 13;
    return k_bits(u);
}
// W[row, col] exactly, natural column order.
inline float k_weight(const WView& W, int64_t row, int64_t col) {
    const uint8_t* r = W.data + row * W.row_bytes;
    switch (W.fmt) {
        case Fmt::F32: { float f; __builtin_memcpy(&f, r + 4 * col, 4); return f; }
        case Fmt::BF16: { uint16_t h; __builtin_memcpy(&h, r + 2 * col, 2); return k_bits(uint32_t(h) << 16); }
        case Fmt::F16: { uint16_t h; __builtin_memcpy(&h, r + 2 * col, 2); return k_f16(h); }
        case Fmt::FP8: return k_e4m3(r[col]) * k_scale(W, row, col);
        case Fmt::FP4: { uint8_t b = r[col / 2]; return k_e2m1((col & 1) ? (b >> 4) : (b & 0xf)) * k_scale(W, row, col); }
    }
    return 0.0f;
}

}  // namespace

const KernelSet& kernels_avx512();
const KernelSet& kernels_avx2();

}  // namespace dsv4::kern
