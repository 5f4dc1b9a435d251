// Next-token choice from logits: greedy, or temperature / top-k / top-p sampling with a seed.
#pragma once
#include <cstdint>
#include <random>
#include <span>

namespace dsv4 {

struct SamplerParams {
    bool greedy = true;
    double temperature = 1.0;
    int64_t top_k = 0;    // 0: off
    double top_p = 1.0;   // 1: off
    uint64_t seed = 0;
};

class Sampler {
public:
    explicit Sampler(const SamplerParams& p);
    int32_t sample(std::span<const float> logits);
    const SamplerParams& params() const { return p_; }

private:
    SamplerParams p_;
    std::mt19937_64 rng_;
};

// Index of the largest logit; ties go to the lowest index.
int32_t argmax(std::span<const float> logits);

}  // namespace dsv4
