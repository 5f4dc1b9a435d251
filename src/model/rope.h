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
    int64_t dims() const { return int64_t(inv_freq.size()) * 2; }  // r
    // Rotates x[dim - r .. dim) in place by +pos (inverse: by -pos).
    void apply(float* x, int64_t dim, int64_t pos, bool inverse = false) const;
    // The same in two steps, for many vectors at one position (the heads of a token): cs (r
    // floats) gets cos(pos * inv_freq[i]) at i and sin at r/2 + i; rotate applies them.
    void angles(int64_t pos, float* cs) const;
    void rotate(float* x, int64_t dim, const float* cs, bool inverse = false) const;
};

}  // namespace dsv4
