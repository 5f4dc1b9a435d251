// A fixed pool of worker threads; parallel_for splits [0, n) into contiguous ranges, the caller
// takes part, and the call returns when every range is done.
//
// Decode runs hundreds of small products per token, so a call must be cheap: workers spin for a
// short while (~50 us) on an atomic generation counter before sleeping on a condition variable.
// [0, n) is cut into one contiguous segment per thread. A thread claims ranges from the front of
// its own segment, each following the last, so it reads its part of a matrix as one stream
// (what the prefetchers need: decode is bound by memory bandwidth); a thread whose segment is
// done takes ranges from the back of the others'. The caller never waits for a worker that has
// not started: it closes the job once every range is claimed (its own segment and, by taking
// from their backs, everyone's) and waits only for the workers inside it. On a machine shared
// with other processes a descheduled worker therefore costs nothing, instead of a scheduler
// time slice per call.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
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
    // fn(begin, end) over disjoint ranges covering [0, n), none smaller than `grain` (except a
    // range that ends at n), on any of the threads; ranges halve as a segment runs out, so the
    // threads finish together.
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
    int64_t job_grain_ = 1;
    int job_segments_ = 0;
    // Thread t's segment: the unclaimed [front, back) packed as front | back << 32 (one CAS
    // claims from either end), a cache line each.
    struct alignas(64) Segment {
        std::atomic<uint64_t> range{0};
    };
    std::unique_ptr<Segment[]> segments_;
    bool claim(int seg, bool front, int64_t& b, int64_t& e);
    void run_parts(int self);
    alignas(64) std::atomic<uint64_t> generation_{0};
    alignas(64) std::atomic<int> inside_{0};
    std::atomic<bool> open_{false};
    std::atomic<int> sleepers_{0};
    std::atomic<bool> stop_{false};
    std::exception_ptr error_;  // guarded by mu_
    Stats stats_;               // the caller's thread only
};

}  // namespace dsv4
