// The model loop (dsv4-model.md "Model"): embedding -> n streams -> blocks -> hc head -> norm -> head.
#include "model/model.h"

#include <stdexcept>

#include "kernels/cpu/matmul.h"
#include "model/ops.h"

namespace dsv4 {

Model::Model(std::unique_ptr<Checkpoint> ckpt, int threads, Numerics numerics)
    : ckpt_(std::move(ckpt)), cfg_(ckpt_->config()), pool_(threads) {
    cfg_.numerics = numerics;
    const auto& c = cfg_;
    w_ = ModelWeights::load(*ckpt_);
    rope_main_ = Rope::plain(c.rope_theta, c.rope_dim);
    rope_compress_ = Rope::yarn(c.compress_rope_theta, c.rope_dim, c.yarn);
}

std::unique_ptr<Model> Model::load(const std::string& dir, int threads, Numerics numerics) {
    return std::unique_ptr<Model>(new Model(Checkpoint::open(dir), threads, numerics));
}

SequenceState Model::new_sequence() const {
    SequenceState s;
    s.layers.resize(config().layers.size());
    return s;
}

void Model::forward(SequenceState& st, std::span<const int32_t> tokens, std::vector<float>& logits,
                    const ForwardOptions& opt) {
    BatchItem item{&st, tokens, &logits, opt.all_logits};
    forward_batch(std::span<BatchItem>(&item, 1), opt);
}

void Model::forward_batch(std::span<BatchItem> items, const ForwardOptions& opt) {
    const auto& c = config();
    const int64_t D = c.hidden_size, n = c.hc_mult, V = c.vocab_size;
    // Validate everything before any state changes.
    int64_t rows = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        const auto& it = items[i];
        if (!it.state || !it.logits) throw std::invalid_argument("forward: batch item without state or logits");
        if (it.tokens.empty()) throw std::invalid_argument("forward: no tokens");
        if (it.state->layers.size() != c.layers.size()) throw std::invalid_argument("forward: sequence state of another model");
        for (size_t j = 0; j < i; ++j)
            if (items[j].state == it.state) throw std::invalid_argument("forward: one sequence twice in a batch");
        for (size_t t = 0; t < it.tokens.size(); ++t)
            if (it.tokens[t] < 0 || it.tokens[t] >= V)
                throw std::invalid_argument("token id " + std::to_string(it.tokens[t]) + " at index " + std::to_string(t) +
                                            " is outside the vocabulary (0.." + std::to_string(V - 1) + ")");
        rows += int64_t(it.tokens.size());
    }
    if (rows == 0) return;
    std::vector<int32_t> tokens;
    tokens.reserve(size_t(rows));
    std::vector<Segment> segs(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
        segs[i].begin = int64_t(tokens.size());
        segs[i].T = int64_t(items[i].tokens.size());
        segs[i].pos0 = items[i].state->pos;
        tokens.insert(tokens.end(), items[i].tokens.begin(), items[i].tokens.end());
    }

    // Residual: n copies of the embedding.
    std::vector<float> X(size_t(rows * n * D)), e(static_cast<size_t>(D));
    for (int64_t t = 0; t < rows; ++t) {
        dequant_row(w_.embed, tokens[size_t(t)], e.data());
        ops::round_bf16(c, e.data(), D);
        for (int64_t i = 0; i < n; ++i) std::copy(e.begin(), e.end(), X.begin() + (t * n + i) * D);
    }
    if (opt.on_hidden) opt.on_hidden(0, X.data(), rows);

    std::vector<float> u(size_t(rows * D)), xn(size_t(rows * D)), a(size_t(rows * D));
    HcMix mix;
    for (size_t l = 0; l < c.layers.size(); ++l) {
        const auto& spec = c.layers[l];
        const auto& L = w_.layers[l];
        const Rope& rope = spec.attn == AttnType::Sliding ? rope_main_ : rope_compress_;
        for (size_t i = 0; i < items.size(); ++i) segs[i].st = &items[i].state->layers[l];
        // attention sublayer
        hc_pre(pool_, c, L.hc_attn, X.data(), rows, u.data(), mix);
        for (int64_t t = 0; t < rows; ++t) ops::rms_norm(u.data() + t * D, L.attn_norm.data(), xn.data() + t * D, D, c.rms_norm_eps);
        ops::round_bf16(c, xn.data(), rows * D);
        attention_forward(pool_, c, spec, L.attn, rope, xn.data(), rows, segs, a.data());
        hc_post(c, mix, a.data(), X.data(), rows);
        // MoE sublayer
        hc_pre(pool_, c, L.hc_ffn, X.data(), rows, u.data(), mix);
        for (int64_t t = 0; t < rows; ++t) ops::rms_norm(u.data() + t * D, L.ffn_norm.data(), xn.data() + t * D, D, c.rms_norm_eps);
        ops::round_bf16(c, xn.data(), rows * D);
        moe_forward(pool_, c, spec, L.ffn, xn.data(), tokens.data(), rows, a.data());
        hc_post(c, mix, a.data(), X.data(), rows);
        if (opt.on_hidden) opt.on_hidden(int(l + 1), X.data(), rows);
    }
    for (auto& it : items) it.state->pos += int64_t(it.tokens.size());

    // Head: only the rows whose logits are wanted.
    std::vector<int64_t> want;
    for (size_t i = 0; i < items.size(); ++i) {
        if (items[i].all_logits)
            for (int64_t t = 0; t < segs[i].T; ++t) want.push_back(segs[i].begin + t);
        else
            want.push_back(segs[i].begin + segs[i].T - 1);
    }
    const int64_t R = int64_t(want.size());
    std::vector<float> Xw(size_t(R * n * D));
    for (int64_t r = 0; r < R; ++r) std::copy_n(X.data() + want[size_t(r)] * n * D, n * D, Xw.data() + r * n * D);
    hc_head(pool_, c, w_.hc_head, Xw.data(), R, u.data());
    for (int64_t t = 0; t < R; ++t) ops::rms_norm(u.data() + t * D, w_.norm.data(), xn.data() + t * D, D, c.rms_norm_eps);
    ops::round_bf16(c, xn.data(), R * D);
    if (opt.on_hidden) opt.on_hidden(int(c.layers.size() + 1), xn.data(), R);
    std::vector<float> lg(size_t(R * V));
    linear(pool_, w_.head, xn.data(), lg.data(), R);
    int64_t r = 0;
    for (auto& it : items) {
        int64_t k = it.all_logits ? int64_t(it.tokens.size()) : 1;
        it.logits->assign(lg.begin() + r * V, lg.begin() + (r + k) * V);
        r += k;
    }
}

}  // namespace dsv4
