// A fixed pool of worker threads; parallel_for splits [0, n) into contiguous ranges, the caller
// takes part, and the call returns when every range is done.
//
// Decode runs hundreds of small products per token, so a call must be cheap: workers spin for a
// short while (~50 us) on an atomic generation counter before sleeping on a condition variable.
// The ranges are claimed dynamically (an atomic counter), and the caller never waits for a worker
// that has not started: it closes the job once every range is claimed and waits only for the
// workers inside it. On a machine shared with other processes a descheduled worker therefore
// costs nothing, instead of a scheduler time slice per call.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dsv4 {

class ThreadPool {
public:
    explicit ThreadPool(int threads = 0);  // 0: every core
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return int(workers_.size()) + 1; }
    // fn(begin, end) over disjoint ranges covering [0, n), none smaller than `grain` (except
    // possibly the last), on any of the threads; ranges shrink as the work runs out (guided).
    // Not reentrant: fn must not call parallel_for on the same pool.
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1);

    // Wall time the caller spent inside parallel_for calls that used the workers, and their
    // number, since construction or the last reset: the rest of a step's wall time ran on one
    // thread (the benchmark prints the parallel fraction of decode).
    struct Stats {
        double parallel_seconds = 0;
        int64_t parallel_calls = 0;
    };
    Stats stats() const { return stats_; }
    void reset_stats() { stats_ = {}; }

private:
    void worker(int index);
    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable start_cv_;
    // The job, written before generation_ is bumped (release) and read after it is seen (acquire).
    // The job: fields written before open_ is set (release), read by a worker only after it has
    // entered (inside_ incremented) and seen open_ (acquire).
    const std::function<void(int64_t, int64_t)>* job_ = nullptr;
    int64_t job_n_ = 0;
    int64_t job_grain_ = 1;
    void run_parts();
    alignas(64) std::atomic<uint64_t> generation_{0};
    alignas(64) std::atomic<int64_t> next_part_{0};  // the first index not yet claimed
    alignas(64) std::atomic<int> inside_{0};
    std::atomic<bool> open_{false};
    std::atomic<int> sleepers_{0};
    std::atomic<bool> stop_{false};
    std::exception_ptr error_;  // guarded by mu_
    Stats stats_;               // the caller's thread only
};

}  // namespace dsv4
