#include "server/scheduler.h"

#include <algorithm>
#include <cstdio>
#include <exception>

#include "model/model.h"
#include "server/metrics.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::server {

using Clock = std::chrono::steady_clock;

// ---- RequestHandle ----

Progress RequestHandle::take(std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, timeout, [&] { return !text_.empty() || finish_ != FinishReason::none; });
    Progress p;
    p.text = std::move(text_);
    text_.clear();
    p.completion_tokens = tokens_;
    p.finish = finish_;
    p.finish_cut = cut_;
    p.error = error_;
    return p;
}

void RequestHandle::cancel() noexcept {
    std::lock_guard lk(mu_);
    cancelled_ = true;
}

bool RequestHandle::cancelled() const noexcept {
    std::lock_guard lk(mu_);
    return cancelled_;
}

void RequestHandle::emit(std::string_view text, int64_t tokens) {
    {
        std::lock_guard lk(mu_);
        text_ += text;
        tokens_ = tokens;
    }
    cv_.notify_all();
}

void RequestHandle::finish(FinishReason reason, std::string error, bool cut) {
    {
        std::lock_guard lk(mu_);
        if (finish_ != FinishReason::none) return;
        finish_ = reason;
        cut_ = cut;
        error_ = std::move(error);
    }
    cv_.notify_all();
}

// ---- one sequence of the running batch ----

struct Scheduler::Active {
    Active(std::shared_ptr<RequestHandle> handle, SequenceState st, const Tokenizer& tok)
        : h(std::move(handle)), state(std::move(st)), sampler(h->job().sampler), decoder(tok) {}

    std::shared_ptr<RequestHandle> h;
    SequenceState state;
    Sampler sampler;
    StreamDecoder decoder;
    size_t prefilled = 0;  // prompt tokens fed so far
    int32_t next = -1;     // sampled token to feed in the next step (decode phase)
    int64_t generated = 0;
    std::string held;      // decoded text not yet emitted: it may be the start of a stop string
    bool done = false;

    bool prefilling() const { return prefilled < h->job().prompt.size(); }
};

// ---- Scheduler ----

Scheduler::Scheduler(Model& model, const Tokenizer& tokenizer, SchedulerOptions options, Metrics& metrics)
    : model_(model), tok_(tokenizer), opt_(std::move(options)), metrics_(metrics), thread_([this] { loop(); }) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::stop() {
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::shared_ptr<RequestHandle> Scheduler::submit(Job job) {
    auto h = std::make_shared<RequestHandle>(std::move(job));
    {
        std::lock_guard lk(mu_);
        const size_t capacity = size_t(opt_.max_batch) + size_t(opt_.max_queue);
        if (queue_.size() + running_ >= capacity)  // waiting requests whose client left give their place up
            std::erase_if(queue_, [&](const std::shared_ptr<RequestHandle>& q) {
                if (!q->cancelled()) return false;
                q->finish(FinishReason::cancelled);
                metrics_.request_cancelled();
                return true;
            });
        if (stopping_ || queue_.size() + running_ >= capacity) {
            metrics_.request_rejected();
            return nullptr;
        }
        queue_.push_back(h);
        metrics_.set_queue_depth(int64_t(queue_.size()));
    }
    cv_.notify_all();
    return h;
}

void Scheduler::admit(std::vector<std::unique_ptr<Active>>& active) {
    std::vector<std::shared_ptr<RequestHandle>> admitted;
    {
        std::unique_lock lk(mu_);
        if (active.empty())  // idle: sleep until work or stop (bounded, to re-check stop)
            cv_.wait_for(lk, std::chrono::milliseconds(200), [&] { return stopping_ || !queue_.empty(); });
        while (!queue_.empty() && active.size() + admitted.size() < size_t(opt_.max_batch)) {
            admitted.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        running_ = active.size() + admitted.size();
        metrics_.set_queue_depth(int64_t(queue_.size()));
    }
    for (auto& h : admitted) {
        if (h->cancelled()) {
            h->finish(FinishReason::cancelled);
            metrics_.request_cancelled();
            continue;
        }
        active.push_back(std::make_unique<Active>(h, model_.new_sequence(), tok_));
    }
}

void Scheduler::loop() {
    std::vector<std::unique_ptr<Active>> active;
    for (;;) {
        {
            std::lock_guard lk(mu_);
            if (stopping_) break;
        }
        admit(active);
        // Drop finished and cancelled sequences: their caches go with them.
        std::erase_if(active, [&](const std::unique_ptr<Active>& a) {
            if (a->done) return true;
            if (a->h->cancelled()) {
                a->h->finish(FinishReason::cancelled);
                metrics_.request_cancelled();
                return true;
            }
            return false;
        });
        {
            std::lock_guard lk(mu_);
            running_ = active.size();
        }
        metrics_.set_active(int64_t(active.size()));
        if (active.empty()) continue;
        try {
            step(active);
        } catch (const std::exception& e) {  // an engine failure fails the batch, not the server
            std::fprintf(stderr, "dsv4 serve: forward step failed: %s\n", e.what());
            for (auto& a : active) {
                a->h->finish(FinishReason::error, e.what());
                a->done = true;
            }
        }
    }
    std::lock_guard lk(mu_);
    for (auto& a : active) a->h->finish(FinishReason::error, "the server is shutting down");
    for (auto& h : queue_) h->finish(FinishReason::error, "the server is shutting down");
    queue_.clear();
}

void Scheduler::step(std::vector<std::unique_ptr<Active>>& active) {
    struct Item {
        Active* a;
        std::span<const int32_t> tokens;
        bool sample;  // the last token of the prompt, or a decode token: sample from its logits
    };
    std::vector<Item> items;
    int64_t decode_tokens = 0;
    for (auto& a : active)
        if (!a->prefilling()) {
            items.push_back({a.get(), std::span<const int32_t>(&a->next, 1), true});
            ++decode_tokens;
        }
    // Prefill: oldest first, a chunk each, within what the decode tokens leave of the step budget;
    // always at least one chunk so that a batch of prompts makes progress.
    int64_t budget = std::max<int64_t>(opt_.step_tokens - decode_tokens, 0);
    bool any_prefill = false;
    for (auto& a : active) {
        if (!a->prefilling()) continue;
        const auto& prompt = a->h->job().prompt;
        int64_t n = std::min<int64_t>(opt_.prefill_chunk, int64_t(prompt.size() - a->prefilled));
        if (any_prefill || decode_tokens > 0) n = std::min(n, budget);
        if (n <= 0) break;
        budget -= n;
        any_prefill = true;
        items.push_back({a.get(), std::span<const int32_t>(prompt.data() + a->prefilled, size_t(n)),
                         a->prefilled + size_t(n) == prompt.size()});
    }

    // One batched pass: the sequences' rows share the projections and experts, attention stays per
    // sequence (each with its own cache), and each item's logits equal a forward() of it alone.
    const auto t0 = Clock::now();
    int64_t step_tokens = 0;
    std::vector<BatchItem> batch(items.size());
    if (logits_.size() < items.size()) logits_.resize(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
        batch[i] = BatchItem{&items[i].a->state, items[i].tokens, &logits_[i], false};
        step_tokens += int64_t(items[i].tokens.size());
    }
    model_.forward_batch(batch);
    for (size_t i = 0; i < items.size(); ++i) {
        Active& a = *items[i].a;
        if (a.prefilling()) a.prefilled += items[i].tokens.size();
        if (items[i].sample) on_token(a, a.sampler.sample(logits_[i]));
    }
    metrics_.step(int64_t(items.size()), step_tokens, decode_tokens,
                  std::chrono::duration<double>(Clock::now() - t0).count());
}

void Scheduler::on_token(Active& a, int32_t token) {
    const Job& job = a.h->job();
    if (a.generated == 0) {
        metrics_.prompt_tokens(int64_t(job.prompt.size()));
        metrics_.time_to_first_token(std::chrono::duration<double>(Clock::now() - a.h->enqueued_).count());
    }
    ++a.generated;
    metrics_.generated_tokens(1);
    const bool eos = !job.ignore_eos && std::find(opt_.eos_ids.begin(), opt_.eos_ids.end(), token) != opt_.eos_ids.end();
    const bool length = a.generated >= job.max_tokens;
    if (!eos) a.held += a.decoder.push(token);
    if (eos || length) a.held += a.decoder.flush();

    // The earliest stop string in the held text ends the generation there.
    size_t cut = std::string::npos;
    for (const auto& s : job.stop) cut = std::min(cut, a.held.find(s));
    if (cut != std::string::npos) {
        a.h->emit(std::string_view(a.held).substr(0, cut), a.generated);
        a.h->finish(FinishReason::stop, {}, true);
        a.done = true;
        return;
    }
    if (eos || length) {
        a.h->emit(a.held, a.generated);
        a.h->finish(eos ? FinishReason::stop : FinishReason::length, {}, !eos);
        a.done = true;
        return;
    }
    // Hold back the longest tail that could still grow into a stop string.
    size_t keep = 0;
    for (const auto& s : job.stop)
        for (size_t k = std::min(s.size() - 1, a.held.size()); k > keep; --k)
            if (a.held.compare(a.held.size() - k, k, s, 0, k) == 0) {
                keep = k;
                break;
            }
    a.h->emit(std::string_view(a.held).substr(0, a.held.size() - keep), a.generated);
    a.held.erase(0, a.held.size() - keep);
    a.next = token;
}

}  // namespace dsv4::server
