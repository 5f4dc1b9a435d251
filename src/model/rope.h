// Interleaved partial RoPE (dsv4-model.md "Attention"): pairs (2i, 2i+1) of the LAST r dims are
// rotated by pos * inv_freq[i]. Plain frequencies for sliding layers, YaRN for CSA/HCA layers.
#pragma once
#include <cstdint>
#include <vector>

#include "io/config.h"

namespace dsv4 {

struct Rope {
    std::vector<float> inv_freq;  // r/2 entries

    static Rope plain(double theta, int64_t r);
    static Rope yarn(double theta, int64_t r, const YarnParams& y);
    // Rotates x[dim - r .. dim) in place by +pos (inverse: by -pos).
    void apply(float* x, int64_t dim, int64_t pos, bool inverse = false) const;
};

}  // namespace dsv4
