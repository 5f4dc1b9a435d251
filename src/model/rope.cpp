#include "model/rope.h"

#include <algorithm>
#include <cmath>

namespace dsv4 {

// Computed in fp32 like the reference: base^(2i/r) as a float power, then reciprocals.
static std::vector<float> pos_freqs(double theta, int64_t r) {
    std::vector<float> p(size_t(r / 2));
    for (int64_t i = 0; i < r / 2; ++i) p[size_t(i)] = std::pow(float(theta), float(2 * i) / float(r));
    return p;
}

Rope Rope::plain(double theta, int64_t r) {
    Rope R;
    for (float p : pos_freqs(theta, r)) R.inv_freq.push_back(1.0f / p);
    return R;
}

Rope Rope::yarn(double theta, int64_t r, const YarnParams& y) {
    if (!y.enabled) return plain(theta, r);
    // corr(b) = r * ln(orig / (2*pi*b)) / (2 ln theta); ramp between floor(corr(beta_fast)) and ceil(corr(beta_slow)).
    auto corr = [&](double b) {
        return double(r) * std::log(y.original_max_position_embeddings / (b * 2.0 * M_PI)) / (2.0 * std::log(theta));
    };
    double lo = corr(y.beta_fast), hi = corr(y.beta_slow);
    if (y.truncate) lo = std::floor(lo), hi = std::ceil(hi);
    lo = std::max(lo, 0.0);
    hi = std::min(hi, double(r - 1));
    if (lo == hi) hi += 0.001;
    Rope R;
    auto pf = pos_freqs(theta, r);
    for (int64_t i = 0; i < r / 2; ++i) {
        float extrap = 1.0f / pf[size_t(i)];
        float interp = 1.0f / (float(y.factor) * pf[size_t(i)]);
        float ramp = std::clamp((float(i) - float(lo)) / (float(hi) - float(lo)), 0.0f, 1.0f);
        float extrap_factor = 1.0f - ramp;
        R.inv_freq.push_back(interp * (1.0f - extrap_factor) + extrap * extrap_factor);
    }
    return R;
}

void Rope::angles(int64_t pos, float* cs) const {
    const size_t h = inv_freq.size();
    for (size_t i = 0; i < h; ++i) {
        const float angle = float(pos) * inv_freq[i];
        cs[i] = float(std::cos(double(angle)));
        cs[h + i] = float(std::sin(double(angle)));
    }
}

void Rope::rotate(float* x, int64_t dim, const float* cs, bool inverse) const {
    const int64_t h = int64_t(inv_freq.size());
    float* v = x + dim - 2 * h;
    for (int64_t i = 0; i < h; ++i) {
        const float c = cs[i], s = inverse ? -cs[h + i] : cs[h + i];
        const float a = v[2 * i], b = v[2 * i + 1];
        v[2 * i] = a * c - b * s;
        v[2 * i + 1] = b * c + a * s;
    }
}

void Rope::apply(float* x, int64_t dim, int64_t pos, bool inverse) const {
    std::vector<float> cs(inv_freq.size() * 2);
    angles(pos, cs.data());
    rotate(x, dim, cs.data(), inverse);
}

}  // namespace dsv4
