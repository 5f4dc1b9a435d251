// What the machine can do, measured: streaming read bandwidth and fp32 FMA throughput, both on
// every thread of a pool, with the best kernel this CPU runs (the benchmark's yardsticks).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/cpu/threadpool.h"

namespace dsv4 {

// A streaming read of one buffer on every thread of a pool, a pass at a time, in turn plain and
// with software prefetches (into L1 4 KB ahead, into L2 64 KB ahead: on a loaded host the
// hardware prefetcher alone streams ~15% less, and the gemvs prefetch); the yardstick is the best
// of the three. The benchmark reads it
// between decode steps, so that its yardstick comes from the same seconds as the decode on a
// host whose bandwidth moves.
class ReadProbe {
public:
    static constexpr int kVariants = 3;
    ReadProbe(ThreadPool& pool, size_t bytes);
    double pass();            // one pass; its GB/s (1e9 bytes)
    double mean_gbs() const;  // bytes / seconds over all passes of the fastest variant (0: none yet)

private:
    ThreadPool& pool_;
    int64_t n_;  // floats
    std::unique_ptr<float[]> buf_;
    std::vector<float> sink_;  // one result per thread, a cache line apart
    double seconds_[kVariants] = {};
    int64_t count_[kVariants] = {};
    int64_t passes_ = 0;
};

// GB/s (1e9 bytes) reading a `bytes`-sized buffer, best of `reps` passes of each variant.
double measure_read_bandwidth(ThreadPool& pool, size_t bytes = size_t(1) << 30, int reps = 5);
// GFLOP/s of independent fused multiply-adds (2 flops each), best of a few runs.
double measure_fma_peak(ThreadPool& pool);

}  // namespace dsv4
