// How far a run's logits are from a reference's (both [T, V], row-major): what `dsv4 logits
// --reference`, the benchmark's exactness columns and the statistical tests report.
#pragma once
#include <cstdint>
#include <span>

namespace dsv4 {

struct LogitsComparison {
    int64_t positions = 0;
    int64_t same_argmax = 0;        // positions whose top token (runtime/sampler.h argmax) is the reference's
    double max_abs_diff = 0;
    double argmax_agreement = 1;    // same_argmax / positions
    double mean_kl = 0;             // mean over positions of KL(softmax(ref) || softmax(ours)), in nats
};

// ours.size() == ref.size() == T * V.
LogitsComparison compare_logits(std::span<const float> ours, std::span<const float> ref, int64_t V);

}  // namespace dsv4
