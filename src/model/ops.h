// Small fp32 element-wise pieces shared by the blocks.
#pragma once
#include <cmath>
#include <cstdint>

namespace dsv4::ops {

// x / sqrt(mean(x^2) + eps), times w if given (dsv4-model.md notation: rms, RMSNorm).
inline void rms_norm(const float* x, const float* w, float* out, int64_t n, double eps) {
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * double(x[i]);
    float inv = float(1.0 / std::sqrt(ss / double(n) + eps));
    if (w)
        for (int64_t i = 0; i < n; ++i) out[i] = w[i] * (x[i] * inv);
    else
        for (int64_t i = 0; i < n; ++i) out[i] = x[i] * inv;
}

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline float silu(float x) { return x / (1.0f + std::exp(-x)); }
// torch.nn.functional.softplus (beta 1, threshold 20).
inline float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

}  // namespace dsv4::ops
