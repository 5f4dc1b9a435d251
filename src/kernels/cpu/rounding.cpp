#include "kernels/cpu/rounding.h"

#include "io/dtype.h"
#include "kernels/cpu/clones.h"

#include <algorithm>
#include <cmath>
#include <cstring>

// The block loops below are element-wise and exact, so their AVX-512 and AVX2 builds
// (DSV4_CLONES) return the baseline's bits. Official numerics runs them on every activation
// (~0.5 ms of a decode token as SSE2 code).
namespace dsv4::rnd {

float bf16(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return x;  // NaN stays NaN
    u += 0x7fffu + ((u >> 16) & 1u);                // ties to even
    u &= 0xffff0000u;
    float r;
    std::memcpy(&r, &u, 4);
    return r;
}

// Rounding onto a format = decoding its nearest code (io/dtype: the same encoders `dsv4 quantize` uses).
float e4m3(float x) { return std::isnan(x) ? x : e4m3_to_f32(f32_to_e4m3(x)); }
float e2m1(float x) { return std::isnan(x) ? x : e2m1_to_f32(f32_to_e2m1(x)); }

float pow2_scale(float a, float M) {
    float t = a * (1.0f / M);
    uint32_t u;
    std::memcpy(&u, &t, 4);
    int exponent = int((u >> 23) & 0xff) - 127;
    bool mantissa = (u & 0x7fffffu) != 0;
    return std::ldexp(1.0f, exponent + (mantissa ? 1 : 0));
}

// e4m3() for |v| <= 448 without encoding and decoding a byte, branch-free so the loop vectorizes:
// normal values keep 3 mantissa bits (round half to even on the bits, a carry bumps the
// exponent); below 2^-6 the grid is multiples of 2^-9 (adding 2^23 rounds v * 512 half to even).
// Same results as e4m3() (tests/test_rounding.cpp checks it against the encoder).
static inline float e4m3_clamped(float v) {
    const float a = std::fabs(v);
    uint32_t u;
    std::memcpy(&u, &a, 4);
    u += 0x7ffffu + ((u >> 20) & 1u);
    u &= 0xfff00000u;
    float rn;
    std::memcpy(&rn, &u, 4);
    const float rs = ((a * 512.0f + 0x1p23f) - 0x1p23f) * (1.0f / 512.0f);
    const float r = std::copysign(a < 0x1p-6f ? rs : rn, v);
    return v != v ? v : r;  // NaN stays NaN
}

DSV4_CLONES void qdq8(float* x, int64_t n, int64_t block) {
    for (int64_t b = 0; b < n; b += block) {
        const int64_t e = std::min(n, b + block);
        float a = 1e-4f;
        for (int64_t i = b; i < e; ++i) a = std::max(a, std::fabs(x[i]));
        const float s = pow2_scale(a, 448.0f), inv = 1.0f / s;  // powers of two: x * inv == x / s
        for (int64_t i = b; i < e; ++i) x[i] = e4m3_clamped(std::clamp(x[i] * inv, -448.0f, 448.0f)) * s;
    }
}
// e2m1() for |v| <= 6, branch-free: the grid is multiples of 1/2 below 2, of 1 below 4, of 2 up
// to 6; adding 2^23 to v scaled onto whole steps rounds half to even, which is also the even
// code at every tie (0 | .5, 1 | 1.5, 2 | 3, 4 | 6: the even codes are 0, 1, 2, 4).
// Same results as e2m1() (tests/test_rounding.cpp checks it against the encoder).
static inline float e2m1_clamped(float v) {
    const float a = std::fabs(v);
    const float step = a < 2.0f ? 0.5f : a < 4.0f ? 1.0f : 2.0f, inv = a < 2.0f ? 2.0f : a < 4.0f ? 1.0f : 0.5f;
    const float r = std::copysign(((a * inv + 0x1p23f) - 0x1p23f) * step, v);
    return v != v ? v : r;  // NaN stays NaN
}

DSV4_CLONES void qdq4(float* x, int64_t n, int64_t block) {
    for (int64_t b = 0; b < n; b += block) {
        const int64_t e = std::min(n, b + block);
        float a = 6.0f * 0x1p-126f;
        for (int64_t i = b; i < e; ++i) a = std::max(a, std::fabs(x[i]));
        const float s = pow2_scale(a, 6.0f), inv = 1.0f / s;  // powers of two: x * inv == x / s
        for (int64_t i = b; i < e; ++i) x[i] = e2m1_clamped(std::clamp(x[i] * inv, -6.0f, 6.0f)) * s;
    }
}

DSV4_CLONES void bf16_inplace(float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {  // bf16() without the branch, so the loop vectorizes
        uint32_t u;
        std::memcpy(&u, x + i, 4);
        const uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
        const uint32_t out = (u & 0x7fffffffu) > 0x7f800000u ? u : r;  // NaN stays NaN
        std::memcpy(x + i, &out, 4);
    }
}

}  // namespace dsv4::rnd
