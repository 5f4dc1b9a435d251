// The roundings of DeepSeek's official numerics (dsv4-model.md "Official numerics"), one small
// function each: bf16 RNE, E4M3 RNE with saturation, E2M1 RNE, the power-of-two block scale, and
// the block quantize-dequantize of activations (QDQ8 / QDQ4).
#pragma once
#include <cstdint>

namespace dsv4::rnd {

float bf16(float x);  // round-to-nearest-even to bfloat16
float e4m3(float x);  // RNE onto FP8 E4M3 (fn), saturating at +-448
float e2m1(float x);  // RNE onto {0, 0.5, 1, 1.5, 2, 3, 4, 6} with sign, saturating at +-6
// s = 2^(exponent(t) + (mantissa(t) != 0)) with t = fp32(a * fp32(1/M)), from the bits of t.
float pow2_scale(float a, float M);
// Per `block` consecutive values (the last block may be partial): a = max(|x|, 1e-4), M = 448,
// x <- e4m3(clamp(x/s, -448, 448)) * s.
void qdq8(float* x, int64_t n, int64_t block);
// Same with a = max(|x|, 6 * 2^-126), M = 6 and e2m1.
void qdq4(float* x, int64_t n, int64_t block);
void bf16_inplace(float* x, int64_t n);

}  // namespace dsv4::rnd
