#include "server/metrics.h"

#include <cstdio>
#include <sstream>

namespace dsv4::server {

void Metrics::request_done(const std::string& endpoint, int status) {
    std::lock_guard lk(mu_);
    ++requests_[{endpoint, status}];
}
void Metrics::prompt_tokens(int64_t n) {
    std::lock_guard lk(mu_);
    prompt_tokens_ += n;
}
void Metrics::generated_tokens(int64_t n) {
    std::lock_guard lk(mu_);
    generated_tokens_ += n;
}
void Metrics::time_to_first_token(double s) {
    std::lock_guard lk(mu_);
    ++ttft_count_;
    ttft_sum_ += s;
    for (size_t i = 0; i < kTtftBuckets.size(); ++i)
        if (s <= kTtftBuckets[i]) ++ttft_buckets_[i];
}
void Metrics::step(int64_t sequences, int64_t tokens, int64_t decode_tokens, double seconds) {
    std::lock_guard lk(mu_);
    ++steps_;
    step_sequences_ += sequences;
    step_tokens_ += tokens;
    step_seconds_ += seconds;
    last_batch_ = sequences;
    if (decode_tokens > 0 && seconds > 0) {
        const double tps = double(decode_tokens) / seconds;
        decode_tps_ = decode_tps_ == 0 ? tps : 0.9 * decode_tps_ + 0.1 * tps;
    }
}
void Metrics::set_queue_depth(int64_t n) {
    std::lock_guard lk(mu_);
    queue_depth_ = n;
}
void Metrics::set_active(int64_t n) {
    std::lock_guard lk(mu_);
    active_ = n;
}
void Metrics::request_cancelled() {
    std::lock_guard lk(mu_);
    ++cancelled_;
}
void Metrics::request_rejected() {
    std::lock_guard lk(mu_);
    ++rejected_;
}

std::string Metrics::prometheus() const {
    std::lock_guard lk(mu_);
    std::ostringstream o;
    auto head = [&](const char* name, const char* type, const char* help) {
        o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    };
    // A metric with one unlabelled sample.
    auto single = [&](const char* name, const char* type, const char* help, auto value) {
        head(name, type, help);
        o << name << ' ' << value << '\n';
    };
    head("dsv4_requests_total", "counter", "HTTP requests answered, by endpoint and status.");
    for (const auto& [k, v] : requests_)
        o << "dsv4_requests_total{endpoint=\"" << k.first << "\",status=\"" << k.second << "\"} " << v << '\n';
    single("dsv4_requests_cancelled_total", "counter", "Generations cancelled because the client went away.", cancelled_);
    single("dsv4_requests_rejected_total", "counter", "Requests refused because the queue was full.", rejected_);
    single("dsv4_prompt_tokens_total", "counter", "Prompt tokens prefilled.", prompt_tokens_);
    single("dsv4_generation_tokens_total", "counter", "Tokens generated.", generated_tokens_);
    single("dsv4_queue_depth", "gauge", "Requests waiting for a batch slot.", queue_depth_);
    single("dsv4_active_sequences", "gauge", "Sequences in the running batch.", active_);
    single("dsv4_batch_size", "gauge", "Sequences in the last forward step.", last_batch_);
    head("dsv4_step_sequences", "summary", "Sequences per forward step.");
    o << "dsv4_step_sequences_sum " << step_sequences_ << "\ndsv4_step_sequences_count " << steps_ << '\n';
    single("dsv4_step_tokens_total", "counter", "Tokens (prefill + decode) through forward steps.", step_tokens_);
    single("dsv4_step_seconds_total", "counter", "Time spent in forward steps.", step_seconds_);
    single("dsv4_decode_tokens_per_second", "gauge", "Decode throughput (smoothed over steps).", decode_tps_);
    head("dsv4_time_to_first_token_seconds", "histogram", "From request accepted to first token.");
    for (size_t i = 0; i < kTtftBuckets.size(); ++i)
        o << "dsv4_time_to_first_token_seconds_bucket{le=\"" << kTtftBuckets[i] << "\"} " << ttft_buckets_[i] << '\n';
    o << "dsv4_time_to_first_token_seconds_bucket{le=\"+Inf\"} " << ttft_count_ << '\n';
    o << "dsv4_time_to_first_token_seconds_sum " << ttft_sum_ << '\n';
    o << "dsv4_time_to_first_token_seconds_count " << ttft_count_ << '\n';
    return o.str();
}

}  // namespace dsv4::server
