// The DeepSeek-V4 model: one forward implementation over the mapped weights
// (dsv4-model.md is the contract). Each block lives in its own file:
//   hyper_connection.cpp (mHC), attention.cpp, compressor.cpp, indexer.cpp, moe.cpp, model.cpp (the loop + head).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "kernels/cpu/threadpool.h"
#include "model/rope.h"
#include "model/weights.h"
#include "runtime/cache.h"

namespace dsv4 {

struct ForwardOptions {
    bool all_logits = true;  // false: logits of the last token only
    // Called with the residual streams [T, n, D] before layer 0 (index 0) and after each layer
    // (index i+1), then with the normed head output [T, D] (index L+1).
    std::function<void(int index, const float* data, int64_t T)> on_hidden;
};

// One sequence's share of a batched forward pass.
struct BatchItem {
    SequenceState* state = nullptr;
    std::span<const int32_t> tokens;
    std::vector<float>* logits = nullptr;  // out: [T, V] (all_logits) or [1, V]
    bool all_logits = false;
};

class Model {
public:
    static std::unique_ptr<Model> load(const std::string& dir, int threads = 0, Numerics numerics = Numerics::FP32);

    const ModelConfig& config() const { return cfg_; }
    const ModelWeights& weights() const { return w_; }
    const Checkpoint& checkpoint() const { return *ckpt_; }
    ThreadPool& pool() { return pool_; }

    SequenceState new_sequence() const;
    // Feeds `tokens` at positions state.pos.. and advances the state. Writes logits [T, V]
    // (all_logits) or [1, V] into `logits`. Throws on an id outside the vocabulary.
    void forward(SequenceState& state, std::span<const int32_t> tokens, std::vector<float>& logits,
                 const ForwardOptions& opt = {});
    // Several sequences in one pass: the projections and experts run over all their rows at once,
    // attention per sequence. Each item's logits equal those of forward() on it alone.
    // `opt.all_logits` is ignored (each item says); on_hidden sees the concatenated rows.
    void forward_batch(std::span<BatchItem> items, const ForwardOptions& opt = {});

private:
    Model(std::unique_ptr<Checkpoint> ckpt, int threads, Numerics numerics);
    std::unique_ptr<Checkpoint> ckpt_;
    ModelConfig cfg_;
    ModelWeights w_;
    ThreadPool pool_;
    Rope rope_main_, rope_compress_;
};

// ---- the blocks (one file each) ----

struct HcMix {  // per token: pre-collapse done, post (n) and comb (n x n, C[j][k]) kept for hc_post
    std::vector<float> post, comb;
};
// mHC pre (dsv4-model.md "Block"): X [T, n*D] -> u [T, D]; fills mix for hc_post.
void hc_pre(ThreadPool& pool, const ModelConfig& c, const HyperConnWeights& w, const float* X, int64_t T, float* u,
            HcMix& mix);
// X'_k = post_k * a + sum_j C[j][k] X_j, in place on X [T, n*D].
void hc_post(const ModelConfig& c, const HcMix& mix, const float* a, float* X, int64_t T);
// Head collapse: y = sum_i p_i X_i with p = sigmoid(hc_head_fn @ rms(X) * scale + base) + eps.
void hc_head(ThreadPool& pool, const ModelConfig& c, const HyperConnWeights& w, const float* X, int64_t T, float* y);
// The Sinkhorn normalisation of one n x n comb matrix (already softmaxed + eps), in place.
void sinkhorn(float* C, int64_t n, int64_t iters, double eps);

// Compressor (CSA or HCA): consumes x [T, D] at positions pos0.., emits finished windows' entries
// into st.entries (normed, RoPE at w*m).
// `indexer` marks the lightning indexer's own compressor (its keys get the indexer's roundings).
void compressor_forward(ThreadPool& pool, const ModelConfig& c, const CompressorWeights& w, const Rope& rope,
                        const float* x, int64_t T, int64_t pos0, CompressorState& st, bool indexer = false);

// Lightning indexer: for each query t, the chosen compressed entries (ascending), among those with
// s < (pos0+t+1) div m. qr [T, q_lora], x [T, D].
void indexer_select(ThreadPool& pool, const ModelConfig& c, const AttentionWeights& w, const Rope& rope,
                    const float* qr, const float* x, int64_t T, int64_t pos0, const CompressorState& keys,
                    std::vector<std::vector<int32_t>>& selected);
// Top-k of scores (ties -> lower index), returned in ascending index order.
std::vector<int32_t> topk_indices(const float* scores, int64_t n, int64_t k);

// A sequence's rows [begin, begin + T) of a batch, at positions pos0.., with its layer cache.
struct Segment {
    int64_t begin = 0, T = 0, pos0 = 0;
    LayerState* st = nullptr;
};
// Attention sublayer: x [rows, D] (normed) -> out [rows, D]; updates each segment's caches.
void attention_forward(ThreadPool& pool, const ModelConfig& c, const LayerSpec& spec, const AttentionWeights& w,
                       const Rope& rope, const float* x, int64_t rows, std::span<const Segment> segs, float* out);

// MoE sublayer: x [T, D] (normed) -> out [T, D].
void moe_forward(ThreadPool& pool, const ModelConfig& c, const LayerSpec& spec, const MoEWeights& w, const float* x,
                 const int32_t* tokens, int64_t T, float* out);
// Router alone: chosen experts [T, k] and their weights [T, k].
void moe_route(ThreadPool& pool, const ModelConfig& c, const LayerSpec& spec, const MoEWeights& w, const float* x,
               const int32_t* tokens, int64_t T, std::vector<int32_t>& experts, std::vector<float>& weights);

}  // namespace dsv4
