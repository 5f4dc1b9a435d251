// What the machine can do, measured: streaming read bandwidth and fp32 FMA throughput, both on
// every thread of a pool, with the best kernel this CPU runs (the benchmark's yardsticks).
#pragma once
#include <cstddef>

#include "kernels/cpu/threadpool.h"

namespace dsv4 {

// GB/s (1e9 bytes) reading a `bytes`-sized buffer, best of `reps` passes without and `reps` with
// software prefetch.
double measure_read_bandwidth(ThreadPool& pool, size_t bytes = size_t(1) << 30, int reps = 5);
// GFLOP/s of independent fused multiply-adds (2 flops each), best of a few runs.
double measure_fma_peak(ThreadPool& pool);

}  // namespace dsv4
