#include "runtime/compare.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "runtime/sampler.h"

namespace dsv4 {

LogitsComparison compare_logits(std::span<const float> ours, std::span<const float> ref, int64_t V) {
    if (V <= 0 || ours.size() != ref.size() || ref.size() % size_t(V) != 0)
        throw std::invalid_argument("compare_logits: sizes differ or are not a multiple of the vocabulary");
    LogitsComparison c;
    c.positions = int64_t(ref.size()) / V;
    double kl_sum = 0;
    for (int64_t t = 0; t < c.positions; ++t) {
        const auto a = ours.subspan(size_t(t * V), size_t(V)), b = ref.subspan(size_t(t * V), size_t(V));
        double ma = a[0], mb = b[0];
        for (int64_t v = 0; v < V; ++v) {
            c.max_abs_diff = std::max(c.max_abs_diff, std::fabs(double(a[size_t(v)]) - double(b[size_t(v)])));
            ma = std::max(ma, double(a[size_t(v)]));
            mb = std::max(mb, double(b[size_t(v)]));
        }
        c.same_argmax += argmax(a) == argmax(b);
        double za = 0, zb = 0;
        for (int64_t v = 0; v < V; ++v) za += std::exp(a[size_t(v)] - ma), zb += std::exp(b[size_t(v)] - mb);
        const double lza = std::log(za), lzb = std::log(zb);
        double kl = 0;
        for (int64_t v = 0; v < V; ++v) {
            const double lb = b[size_t(v)] - mb - lzb, la = a[size_t(v)] - ma - lza;
            kl += std::exp(lb) * (lb - la);
        }
        kl_sum += kl;
    }
    if (c.positions > 0) {
        c.argmax_agreement = double(c.same_argmax) / double(c.positions);
        c.mean_kl = kl_sum / double(c.positions);
    }
    return c;
}

}  // namespace dsv4
