// Random-weight checkpoints of a given config, in the official tensor names and shapes: for
// timing (values are noise). Weights are drawn so that activations stay O(1): linear weights
// uniform with variance 1/in, norms 1, hyper-connection biases and windows small, sinks 0.
#pragma once
#include <cstdint>
#include <vector>

#include "io/config.h"
#include "io/quantize.h"

namespace dsv4 {

std::vector<SourceTensor> random_sources(const ModelConfig& c, uint64_t seed);

}  // namespace dsv4
