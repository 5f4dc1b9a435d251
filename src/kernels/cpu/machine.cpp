#include "kernels/cpu/machine.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/cpu/matmul.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace dsv4 {

namespace {

using Clock = std::chrono::steady_clock;

// Sum of n floats, one pass (the result only keeps the loads alive).
float read_scalar(const float* p, int64_t n) {
    float a[8] = {};
    for (int64_t i = 0; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) a[k] += p[i + k];
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}
// flops of `iters` rounds of 8 independent FMA chains
float fma_scalar(int64_t iters) {
    float a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (int64_t i = 0; i < iters; ++i)
        for (int k = 0; k < 8; ++k) a[k] = a[k] * 0.999f + 0.001f;
    // every chain feeds the result, or the compiler drops the ones that do not
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

#if defined(__x86_64__)
// The SIMD reads, plain or with a software prefetch `pf` bytes ahead (0: none) into L1 (or L2 with
// `l2`): on a loaded host the hardware prefetcher alone streams ~15% less (Zen 5, 2 threads:
// 42-44 vs 48-51 GB/s with 4 KB ahead), and the gemvs prefetch, so the yardstick takes the best.
__attribute__((target("avx512f"))) float read_avx512(const float* p, int64_t n, int pf, bool l2) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t i = 0; i + 64 <= n; i += 64) {
        if (pf && l2) _mm_prefetch(reinterpret_cast<const char*>(p + i) + pf, _MM_HINT_T1);
        else if (pf) _mm_prefetch(reinterpret_cast<const char*>(p + i) + pf, _MM_HINT_T0);
        a0 = _mm512_add_ps(a0, _mm512_loadu_ps(p + i));
        a1 = _mm512_add_ps(a1, _mm512_loadu_ps(p + i + 16));
        a2 = _mm512_add_ps(a2, _mm512_loadu_ps(p + i + 32));
        a3 = _mm512_add_ps(a3, _mm512_loadu_ps(p + i + 48));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}
__attribute__((target("avx512f"))) float fma_avx512(int64_t iters) {
    // 12 independent chains cover 2 FMA pipes x 4-6 cycles of latency
    __m512 a[12];
    for (int k = 0; k < 12; ++k) a[k] = _mm512_set1_ps(float(k));
    const __m512 m = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(0.001f);
    for (int64_t i = 0; i < iters; ++i)
#pragma GCC unroll 12
        for (int k = 0; k < 12; ++k) a[k] = _mm512_fmadd_ps(a[k], m, c);
    __m512 s = a[0];
    for (int k = 1; k < 12; ++k) s = _mm512_add_ps(s, a[k]);
    return _mm512_reduce_add_ps(s);
}
__attribute__((target("avx2,fma"))) float read_avx2(const float* p, int64_t n, int pf, bool l2) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t i = 0; i + 32 <= n; i += 32) {
        if (pf && l2 && i % 64 == 0) _mm_prefetch(reinterpret_cast<const char*>(p + i) + pf, _MM_HINT_T1);
        else if (pf && i % 64 == 0) _mm_prefetch(reinterpret_cast<const char*>(p + i) + pf, _MM_HINT_T0);
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    float o[8];
    _mm256_storeu_ps(o, s);
    return o[0] + o[1] + o[2] + o[3] + o[4] + o[5] + o[6] + o[7];
}
__attribute__((target("avx2,fma"))) float fma_avx2(int64_t iters) {
    __m256 a[12];
    for (int k = 0; k < 12; ++k) a[k] = _mm256_set1_ps(float(k));
    const __m256 m = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(0.001f);
    for (int64_t i = 0; i < iters; ++i)
#pragma GCC unroll 12
        for (int k = 0; k < 12; ++k) a[k] = _mm256_fmadd_ps(a[k], m, c);
    // every chain feeds the result: with only a[0] read, the compiler dropped the other 11 and
    // the "peak" was one dependent FMA per latency counted as 12
    __m256 s = a[0];
    for (int k = 1; k < 12; ++k) s = _mm256_add_ps(s, a[k]);
    float o[8];
    _mm256_storeu_ps(o, s);
    return o[0] + o[7];
}
#endif

}  // namespace

ReadProbe::ReadProbe(ThreadPool& pool, size_t bytes)
    : pool_(pool), n_(int64_t(bytes / sizeof(float))), buf_(new float[size_t(n_)]), sink_(size_t(pool.size()) * 16) {
    const int threads = pool_.size();
    // first touch by the threads that will read it
    pool_.parallel_for(threads, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) std::memset(buf_.get() + n_ * t / threads, 0, size_t(n_ / threads) * 4);
    });
}

double ReadProbe::pass() {
    // in turn: plain, a prefetch 4 KB ahead into L1, 64 KB ahead into L2; the yardstick is the
    // best of them
    const int v = int(passes_ % kVariants), pf = v == 0 ? 0 : v == 1 ? 4096 : 65536;
    const bool l2 = v == 2;
    (void)pf, (void)l2;  // (the scalar read has no prefetch variant)
    const Isa isa = best_isa();
    const int threads = pool_.size();
    const auto t0 = Clock::now();
    pool_.parallel_for(threads, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
            const float* p = buf_.get() + n_ * t / threads;
            const int64_t m = n_ * (t + 1) / threads - n_ * t / threads;
            float s;
#if defined(__x86_64__)
            if (isa == Isa::Avx512) s = read_avx512(p, m, pf, l2);
            else if (isa == Isa::Avx2) s = read_avx2(p, m, pf, l2);
            else
#endif
                s = read_scalar(p, m);
            sink_[size_t(t) * 16] = s;
        }
    });
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    seconds_[v] += dt;
    ++count_[v];
    ++passes_;
    return double(n_) * 4 / dt / 1e9;
}

double ReadProbe::mean_gbs() const {
    double best = 0;
    for (int v = 0; v < kVariants; ++v)
        if (count_[v] > 0) best = std::max(best, double(count_[v]) * double(n_) * 4 / seconds_[v] / 1e9);
    return best;
}

double measure_read_bandwidth(ThreadPool& pool, size_t bytes, int reps) {
    ReadProbe probe(pool, bytes);
    double best = 0;
    for (int r = 0; r < ReadProbe::kVariants * reps; ++r) best = std::max(best, probe.pass());
    return best;
}

double measure_fma_peak(ThreadPool& pool) {
    const Isa isa = best_isa();
    const int threads = pool.size();
    const int lanes = isa == Isa::Avx512 ? 16 : isa == Isa::Avx2 ? 8 : 1;
    const int chains = isa == Isa::Scalar ? 8 : 12;
    const int64_t iters = isa == Isa::Scalar ? 20'000'000 : 10'000'000;
    std::vector<float> sink(size_t(threads) * 16);
    double best = 0;
    for (int r = 0; r < 3; ++r) {
        const auto t0 = Clock::now();
        pool.parallel_for(threads, [&](int64_t b, int64_t e) {
            for (int64_t t = b; t < e; ++t) {
                float s;
#if defined(__x86_64__)
                if (isa == Isa::Avx512) s = fma_avx512(iters);
                else if (isa == Isa::Avx2) s = fma_avx2(iters);
                else
#endif
                    s = fma_scalar(iters);
                sink[size_t(t) * 16] = s;
            }
        });
        const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
        best = std::max(best, double(threads) * double(iters) * chains * lanes * 2 / dt / 1e9);
    }
    return best;
}

}  // namespace dsv4
