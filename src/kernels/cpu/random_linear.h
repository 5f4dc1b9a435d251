// Random matrices in every stored format, owning their bytes: for the kernel tests (SIMD paths
// against the scalar one) and the kernel benchmark (`dsv4 bench --kernels`).
#pragma once
#include <cstdint>
#include <vector>

#include "model/weights.h"

namespace dsv4 {

struct OwnedLinear {
    std::vector<uint8_t> data, scale;
    Linear L;  // views data / scale: keep the OwnedLinear alive (moving it keeps the buffers)
};

// Random weights: F32/BF16 normal values, F16 random bit patterns (subnormals included, no
// Inf/NaN), FP8 random bytes without the NaN codes and 128x128 scales, FP4 random codes and
// per-32 scales; scales are powers of two near 1 (E8M0), or non-powers (f32_scale).
OwnedLinear random_linear(Linear::Format f, int64_t out, int64_t in, uint64_t seed, bool f32_scale = false);

}  // namespace dsv4
