// A fixed pool of worker threads; parallel_for splits [0, n) into contiguous ranges, the caller
// takes part, and the call returns when every range is done.
//
// Decode runs hundreds of small products per token, so a call must be cheap: workers spin for a
// short while (~50 us) on an atomic generation counter before sleeping on a condition variable,
// and the caller spins for the stragglers. A call costs a few cache-line transfers when the pool
// is warm; an idle pool sleeps.
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
    // fn(begin, end) over disjoint ranges; at most size() ranges, none smaller than `grain`.
    // Not reentrant: fn must not call parallel_for on the same pool.
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1);

private:
    void worker(int index);
    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable start_cv_;
    // The job, written before generation_ is bumped (release) and read after it is seen (acquire).
    const std::function<void(int64_t, int64_t)>* job_ = nullptr;
    int64_t job_n_ = 0;
    int job_parts_ = 0;
    alignas(64) std::atomic<uint64_t> generation_{0};
    alignas(64) std::atomic<int> pending_{0};
    std::atomic<int> sleepers_{0};
    std::atomic<bool> stop_{false};
    std::exception_ptr error_;  // guarded by mu_
};

}  // namespace dsv4
