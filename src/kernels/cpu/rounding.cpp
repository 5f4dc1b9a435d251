#include "kernels/cpu/rounding.h"

#include "io/dtype.h"

#include <algorithm>
#include <cmath>
#include <cstring>

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

template <class Round>
static void qdq(float* x, int64_t n, int64_t block, float floor_amax, float M, Round round) {
    for (int64_t b = 0; b < n; b += block) {
        const int64_t e = std::min(n, b + block);
        float a = floor_amax;
        for (int64_t i = b; i < e; ++i) a = std::max(a, std::fabs(x[i]));
        const float s = pow2_scale(a, M);
        for (int64_t i = b; i < e; ++i) x[i] = round(std::clamp(x[i] / s, -M, M)) * s;
    }
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

void qdq8(float* x, int64_t n, int64_t block) {
    for (int64_t b = 0; b < n; b += block) {
        const int64_t e = std::min(n, b + block);
        float a = 1e-4f;
        for (int64_t i = b; i < e; ++i) a = std::max(a, std::fabs(x[i]));
        const float s = pow2_scale(a, 448.0f), inv = 1.0f / s;  // powers of two: x * inv == x / s
        for (int64_t i = b; i < e; ++i) x[i] = e4m3_clamped(std::clamp(x[i] * inv, -448.0f, 448.0f)) * s;
    }
}
void qdq4(float* x, int64_t n, int64_t block) { qdq(x, n, block, 6.0f * std::ldexp(1.0f, -126), 6.0f, e2m1); }

void bf16_inplace(float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] = bf16(x[i]);
}

}  // namespace dsv4::rnd
