// Perplexity of a token sequence, computed exactly as tools/train/train.py's held-out evaluation:
// windows ids[s .. s+window] for s = 0, window, 2*window, ...; each window is a fresh sequence
// that predicts its tokens 1.. from the ones before it. Every token but the first is predicted once.
#pragma once
#include <cstdint>
#include <span>

#include "model/model.h"

namespace dsv4 {

struct PerplexityResult {
    int64_t predicted = 0;     // tokens scored (ids.size() - 1)
    double nll = 0;            // summed negative log-likelihood, nats
    double unigram_nll = 0;    // the same tokens under the unigram baseline (see perplexity())
    double loss() const { return nll / double(predicted); }
    double perplexity() const;
    double unigram_perplexity() const;
};

// The unigram baseline: with `train_counts` (one count per vocabulary id, from the training text),
// the add-one distribution (c + 1) / (sum + V), as tools/train/train.py computes it; without, the
// sequence's own token frequencies (the best context-free fit of this very text, optimistic on short texts).
// Throws std::invalid_argument for window < 1, fewer than 2 ids, or counts of the wrong size.
PerplexityResult perplexity(Model& model, std::span<const int32_t> ids, int64_t window,
                            std::span<const int64_t> train_counts = {});

}  // namespace dsv4
