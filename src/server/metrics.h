// Counters and gauges of one server, rendered as Prometheus text for GET /metrics.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace dsv4::server {

class Metrics {
public:
    // One finished HTTP request on `endpoint` with `status`.
    void request_done(const std::string& endpoint, int status);
    void prompt_tokens(int64_t n);
    void generated_tokens(int64_t n);
    void time_to_first_token(double seconds);
    // One forward step: how many sequences, how many tokens (prefill + decode), of which decode, its time.
    void step(int64_t sequences, int64_t tokens, int64_t decode_tokens, double seconds);
    void set_queue_depth(int64_t n);
    void set_active(int64_t n);
    void request_cancelled();
    void request_rejected();  // overload

    std::string prometheus() const;

private:
    mutable std::mutex mu_;
    std::map<std::pair<std::string, int>, int64_t> requests_;
    int64_t prompt_tokens_ = 0, generated_tokens_ = 0, cancelled_ = 0, rejected_ = 0;
    int64_t queue_depth_ = 0, active_ = 0;
    int64_t steps_ = 0, step_sequences_ = 0, step_tokens_ = 0, last_batch_ = 0;
    double step_seconds_ = 0;
    double decode_tps_ = 0;  // exponentially smoothed decode tokens/s over steps
    static constexpr std::array<double, 8> kTtftBuckets{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
    std::array<int64_t, kTtftBuckets.size()> ttft_buckets_{};
    int64_t ttft_count_ = 0;
    double ttft_sum_ = 0;
};

}  // namespace dsv4::server
