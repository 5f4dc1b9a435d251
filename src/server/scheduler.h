// Continuous batching: one thread owns the model and runs every forward call. Requests wait in a
// bounded queue, join the running batch when a slot is free, are prefilled in chunks interleaved with
// the decode steps of the others, and leave the batch (freeing their cache) when done or cancelled.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/sampler.h"

namespace dsv4 {
class Model;
class Tokenizer;
}  // namespace dsv4

namespace dsv4::server {

class Metrics;

enum class FinishReason { none, stop, length, cancelled, error };

struct Job {
    std::vector<int32_t> prompt;  // non-empty, ids < vocab
    int64_t max_tokens = 1;       // >= 1, prompt + max_tokens <= max context
    SamplerParams sampler;
    std::vector<std::string> stop;  // text that ends the generation (not included in the output)
    bool ignore_eos = false;
};

// What the scheduler has produced for one request since the last take().
struct Progress {
    std::string text;               // generated text (complete UTF-8 characters, stop strings cut)
    int64_t completion_tokens = 0;  // tokens generated so far (total)
    FinishReason finish = FinishReason::none;
    bool finish_cut = false;        // ended by max_tokens or a stop string (not by EOS)
    std::string error;              // finish == error
};

// Shared by the HTTP thread that submitted the request and the scheduler thread.
class RequestHandle {
public:
    explicit RequestHandle(Job job) : job_(std::move(job)), enqueued_(std::chrono::steady_clock::now()) {}
    // Waits up to `timeout` for new text or the end; moves out what arrived.
    Progress take(std::chrono::milliseconds timeout);
    // The client is gone or done: the scheduler drops the sequence at its next step.
    void cancel() noexcept;
    bool cancelled() const noexcept;
    const Job& job() const { return job_; }

private:
    friend class Scheduler;
    void emit(std::string_view text, int64_t tokens);
    void finish(FinishReason reason, std::string error = {}, bool cut = false);

    const Job job_;
    const std::chrono::steady_clock::time_point enqueued_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::string text_;
    int64_t tokens_ = 0;
    FinishReason finish_ = FinishReason::none;
    bool cut_ = false;
    std::string error_;
    bool cancelled_ = false;
};

// Cancels the request when the HTTP side lets go of it (RAII for "the client went away").
class CancelOnExit {
public:
    explicit CancelOnExit(std::shared_ptr<RequestHandle> h) : h_(std::move(h)) {}
    CancelOnExit(const CancelOnExit&) = delete;
    CancelOnExit& operator=(const CancelOnExit&) = delete;
    ~CancelOnExit() { h_->cancel(); }
    RequestHandle& operator*() const { return *h_; }
    RequestHandle* operator->() const { return h_.get(); }

private:
    std::shared_ptr<RequestHandle> h_;
};

struct SchedulerOptions {
    int max_batch = 8;             // sequences in one forward step
    int max_queue = 64;            // requests waiting for a slot beyond the running batch; more are refused
    int64_t prefill_chunk = 64;    // prompt tokens of one sequence per step
    int64_t step_tokens = 256;     // prompt + decode tokens per step (prefill fills what decode leaves)
    std::vector<int32_t> eos_ids;  // tokens that end a generation
};

class Scheduler {
public:
    Scheduler(Model& model, const Tokenizer& tokenizer, SchedulerOptions options, Metrics& metrics);
    ~Scheduler();  // stops the thread; requests still running finish with an error
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Queues a request; nullptr when the queue is full (the caller answers 503).
    std::shared_ptr<RequestHandle> submit(Job job);
    void stop();
    const SchedulerOptions& options() const { return opt_; }

private:
    struct Active;
    void loop();
    void admit(std::vector<std::unique_ptr<Active>>& active);
    void step(std::vector<std::unique_ptr<Active>>& active);
    void on_token(Active& a, int32_t token);

    Model& model_;
    const Tokenizer& tok_;
    const SchedulerOptions opt_;
    Metrics& metrics_;
    std::vector<std::vector<float>> logits_;  // per batch item, reused across steps (scheduler thread only)

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<RequestHandle>> queue_;
    size_t running_ = 0;  // sequences in the batch (the capacity is max_batch + max_queue)
    bool stopping_ = false;
    std::thread thread_;  // last: started after everything above exists
};

}  // namespace dsv4::server
