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
    segments_ = std::make_unique<Segment[]>(size_t(threads));
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

namespace {
uint64_t pack(int64_t front, int64_t back) { return uint64_t(front) | uint64_t(back) << 32; }
}  // namespace

// Takes [b, e) from the front or the back of segment `seg`: half of what is left, at least the
// grain, and all of it when less than a grain would remain. False when the segment is empty.
bool ThreadPool::claim(int seg, bool front, int64_t& b, int64_t& e) {
    std::atomic<uint64_t>& r = segments_[size_t(seg)].range;
    uint64_t cur = r.load(std::memory_order_relaxed);
    for (;;) {
        const int64_t f = int64_t(cur & 0xFFFFFFFFu), k = int64_t(cur >> 32), left = k - f;
        if (left <= 0) return false;
        int64_t take = std::max(job_grain_, left / 2);
        if (left - take < job_grain_) take = left;
        const uint64_t next = front ? pack(f + take, k) : pack(f, k - take);
        if (r.compare_exchange_weak(cur, next, std::memory_order_relaxed)) {
            b = front ? f : k - take;
            e = front ? f + take : k;
            return true;
        }
    }
}

// Runs ranges until none is left: this thread's segment from its front, then the others' from
// their backs. Errors are kept for the caller.
void ThreadPool::run_parts(int self) {
    const int nseg = job_segments_;
    for (int i = 0; i < nseg; ++i) {
        const int seg = (self + i) % nseg;
        const bool own = i == 0 && self < nseg;  // (more threads than segments: the rest only help)
        int64_t b, e;
        while (claim(seg, own, b, e)) {
            try {
                (*job_)(b, e);
            } catch (...) {
                std::lock_guard<std::mutex> lk(mu_);
                if (!error_) error_ = std::current_exception();
            }
        }
    }
}

void ThreadPool::worker(int index) {
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
        if (open_.load(std::memory_order_seq_cst)) run_parts(index);
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
    constexpr int64_t kMaxN = int64_t(1) << 31;  // a segment's ends are packed in 32 bits each
    if (n > kMaxN) {
        for (int64_t base = 0; base < n; base += kMaxN)
            parallel_for(std::min(kMaxN, n - base), [&](int64_t b, int64_t e) { fn(base + b, base + e); }, grain);
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
        job_grain_ = grain;
        // one segment per thread, each at least two grains, cut at multiples of the grain
        const int64_t units = (n + grain - 1) / grain;
        job_segments_ = int(std::min<int64_t>(size(), units / 2));
        for (int s = 0; s < job_segments_; ++s) {
            const int64_t f = std::min(n, units * s / job_segments_ * grain);
            const int64_t k = std::min(n, units * (s + 1) / job_segments_ * grain);
            segments_[size_t(s)].range.store(pack(f, k), std::memory_order_relaxed);
        }
        error_ = nullptr;
        open_.store(true, std::memory_order_seq_cst);
        generation_.fetch_add(1, std::memory_order_release);
    }
    if (sleepers_.load() > 0) start_cv_.notify_all();
    run_parts(0);
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
