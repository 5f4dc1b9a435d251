#include "runtime/perplexity.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace dsv4 {

namespace {

// -log softmax(logits)[target], in double.
double nll_of(const float* logits, int64_t V, int32_t target) {
    const float mx = *std::max_element(logits, logits + V);
    double sum = 0;
    for (int64_t i = 0; i < V; ++i) sum += std::exp(double(logits[i]) - mx);
    return std::log(sum) - (double(logits[target]) - mx);
}

}  // namespace

double PerplexityResult::perplexity() const { return std::exp(nll / double(predicted)); }
double PerplexityResult::unigram_perplexity() const { return std::exp(unigram_nll / double(predicted)); }

PerplexityResult perplexity(Model& model, std::span<const int32_t> ids, int64_t window,
                            std::span<const int64_t> train_counts) {
    if (window < 1) throw std::invalid_argument("perplexity: window must be >= 1");
    const int64_t N = int64_t(ids.size());
    if (N < 2) throw std::invalid_argument("perplexity: need at least 2 tokens");
    const int64_t V = model.config().vocab_size;
    if (!train_counts.empty() && int64_t(train_counts.size()) != V)
        throw std::invalid_argument("perplexity: " + std::to_string(train_counts.size()) +
                                    " unigram counts for a vocabulary of " + std::to_string(V));
    PerplexityResult r;
    std::vector<float> logits;
    for (int64_t s = 0; s < N - 1; s += window) {
        const int64_t len = std::min(window + 1, N - s);
        auto st = model.new_sequence();
        model.forward(st, ids.subspan(size_t(s), size_t(len - 1)), logits);
        for (int64_t t = 0; t + 1 < len; ++t) r.nll += nll_of(logits.data() + t * V, V, ids[size_t(s + t + 1)]);
        r.predicted += len - 1;
    }
    if (!train_counts.empty()) {
        double total = double(V);
        for (auto c : train_counts) total += double(c);
        for (int64_t i = 1; i < N; ++i)
            r.unigram_nll -= std::log((double(train_counts[size_t(ids[size_t(i)])]) + 1.0) / total);
        return r;
    }
    // Baseline: the best context-free model of this very text (its own frequencies of the predicted tokens).
    std::unordered_map<int32_t, int64_t> freq;
    for (int64_t i = 1; i < N; ++i) ++freq[ids[size_t(i)]];
    for (const auto& [id, c] : freq) r.unigram_nll -= double(c) * std::log(double(c) / double(r.predicted));
    return r;
}

}  // namespace dsv4
