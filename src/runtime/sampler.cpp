#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace dsv4 {

int32_t argmax(std::span<const float> logits) {
    int32_t best = 0;
    for (size_t i = 1; i < logits.size(); ++i)
        if (logits[i] > logits[size_t(best)]) best = int32_t(i);
    return best;
}

Sampler::Sampler(const SamplerParams& p) : p_(p), rng_(p.seed) {
    if (!p.greedy) {
        if (!(p.temperature >= 0) || !std::isfinite(p.temperature)) throw std::invalid_argument("temperature must be >= 0");
        if (!(p.top_p > 0 && p.top_p <= 1)) throw std::invalid_argument("top_p must be in (0, 1]");
        if (p.top_k < 0) throw std::invalid_argument("top_k must be >= 0");
    }
}

int32_t Sampler::sample(std::span<const float> logits) {
    if (p_.greedy || p_.temperature == 0) return argmax(logits);
    const size_t V = logits.size();
    std::vector<int32_t> idx(V);
    std::iota(idx.begin(), idx.end(), 0);
    size_t keep = V;
    if (p_.top_k > 0 && size_t(p_.top_k) < V) keep = size_t(p_.top_k);
    std::partial_sort(idx.begin(), idx.begin() + keep, idx.end(),
                      [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    idx.resize(keep);
    std::vector<double> prob(keep);
    const double mx = logits[size_t(idx[0])];
    double sum = 0;
    for (size_t i = 0; i < keep; ++i) sum += (prob[i] = std::exp((double(logits[size_t(idx[i])]) - mx) / p_.temperature));
    for (auto& q : prob) q /= sum;
    if (p_.top_p < 1.0) {  // smallest prefix whose mass reaches top_p
        double acc = 0;
        size_t n = 0;
        while (n < keep) {
            acc += prob[n++];
            if (acc >= p_.top_p) break;
        }
        prob.resize(n);
        idx.resize(n);
    }
    std::discrete_distribution<size_t> dist(prob.begin(), prob.end());
    return idx[dist(rng_)];
}

}  // namespace dsv4
