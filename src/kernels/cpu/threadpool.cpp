#include "kernels/cpu/threadpool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DSV4_PAUSE() _mm_pause()
#else
#define DSV4_PAUSE() std::this_thread::yield()
#endif

namespace dsv4 {

namespace {
constexpr auto kSpin = std::chrono::microseconds(50);
}  // namespace

ThreadPool::ThreadPool(int threads) {
    if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_.store(true);
    }
    start_cv_.notify_all();
    for (auto& t : workers_) t.join();
}

// Claims and runs ranges until none is left; errors are kept for the caller. Guided sizes: each
// claim takes 1/(2 x threads) of what is left (never less than the grain), so the first ranges
// are long (few claims, long streams for the prefetchers) and the last short (the threads finish
// together).
void ThreadPool::run_parts() {
    const int64_t spread = 2 * int64_t(size());
    for (;;) {
        int64_t b = next_part_.load(std::memory_order_relaxed), e;
        do {
            if (b >= job_n_) return;
            e = std::min(job_n_, b + std::max(job_grain_, (job_n_ - b) / spread));
        } while (!next_part_.compare_exchange_weak(b, e, std::memory_order_relaxed));
        try {
            (*job_)(b, e);
        } catch (...) {
            std::lock_guard<std::mutex> lk(mu_);
            if (!error_) error_ = std::current_exception();
        }
    }
}

void ThreadPool::worker(int) {
    uint64_t seen = 0;
    for (;;) {
        // Spin briefly for the next job, then sleep.
        uint64_t g = generation_.load(std::memory_order_acquire);
        if (g == seen && !stop_.load(std::memory_order_relaxed)) {
            const auto until = std::chrono::steady_clock::now() + kSpin;
            for (int i = 0;; ++i) {
                DSV4_PAUSE();
                g = generation_.load(std::memory_order_acquire);
                if (g != seen || stop_.load(std::memory_order_relaxed)) break;
                if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) break;
            }
        }
        if (g == seen) {
            std::unique_lock<std::mutex> lk(mu_);
            sleepers_.fetch_add(1);
            start_cv_.wait(lk, [&] { return stop_.load() || generation_.load() != seen; });
            sleepers_.fetch_sub(1);
            g = generation_.load(std::memory_order_acquire);
        }
        if (stop_.load()) return;
        seen = g;
        // Enter first, then look: a caller that closed the job before seeing us enter does not
        // wait for us, and we see it closed and touch nothing.
        inside_.fetch_add(1, std::memory_order_seq_cst);
        if (open_.load(std::memory_order_seq_cst)) run_parts();
        inside_.fetch_sub(1, std::memory_order_release);
    }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
    if (n <= 0) return;
    grain = std::max<int64_t>(grain, 1);
    if (n < 2 * grain || workers_.empty()) {
        fn(0, n);
        return;
    }
    struct Timed {  // counted on every way out, the rethrow included
        Stats& s;
        std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
        ~Timed() {
            s.parallel_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            ++s.parallel_calls;
        }
    } timed{stats_};
    {
        // Under the lock so that a worker deciding to sleep cannot miss the bump.
        std::lock_guard<std::mutex> lk(mu_);
        job_ = &fn;
        job_n_ = n;
        job_grain_ = grain;
        error_ = nullptr;
        next_part_.store(0, std::memory_order_relaxed);
        open_.store(true, std::memory_order_seq_cst);
        generation_.fetch_add(1, std::memory_order_release);
    }
    if (sleepers_.load() > 0) start_cv_.notify_all();
    run_parts();
    // Every part is claimed: close, then wait only for the workers inside (they are running).
    open_.store(false, std::memory_order_seq_cst);
    for (int i = 0; inside_.load(std::memory_order_acquire) != 0; ++i) {
        if (i < 4096) DSV4_PAUSE();
        else std::this_thread::yield();
    }
    std::lock_guard<std::mutex> lk(mu_);
    if (error_) std::rethrow_exception(error_);
}

}  // namespace dsv4
