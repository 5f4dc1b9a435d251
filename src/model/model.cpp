// The model loop (dsv4-model.md "Model"): embedding -> n streams -> blocks -> hc head -> norm -> head.
#include "model/model.h"

#include <stdexcept>

#include "kernels/cpu/matmul.h"
#include "model/ops.h"

namespace dsv4 {

Model::Model(std::unique_ptr<Checkpoint> ckpt, int threads) : ckpt_(std::move(ckpt)), pool_(threads) {
    const auto& c = ckpt_->config();
    w_ = ModelWeights::load(*ckpt_);
    rope_main_ = Rope::plain(c.rope_theta, c.rope_dim);
    rope_compress_ = Rope::yarn(c.compress_rope_theta, c.rope_dim, c.yarn);
}

std::unique_ptr<Model> Model::load(const std::string& dir, int threads) {
    return std::unique_ptr<Model>(new Model(Checkpoint::open(dir), threads));
}

SequenceState Model::new_sequence() const {
    SequenceState s;
    s.layers.resize(config().layers.size());
    return s;
}

void Model::forward(SequenceState& st, std::span<const int32_t> tokens, std::vector<float>& logits,
                    const ForwardOptions& opt) {
    const auto& c = config();
    const int64_t T = int64_t(tokens.size()), D = c.hidden_size, n = c.hc_mult, V = c.vocab_size;
    if (T == 0) throw std::invalid_argument("forward: no tokens");
    if (st.layers.size() != c.layers.size()) throw std::invalid_argument("forward: sequence state of another model");
    for (int64_t t = 0; t < T; ++t)
        if (tokens[size_t(t)] < 0 || tokens[size_t(t)] >= V)
            throw std::invalid_argument("token id " + std::to_string(tokens[size_t(t)]) + " at index " +
                                        std::to_string(t) + " is outside the vocabulary (0.." + std::to_string(V - 1) + ")");
    const int64_t pos0 = st.pos;

    // Residual: n copies of the embedding.
    std::vector<float> X(size_t(T * n * D)), e(static_cast<size_t>(D));
    for (int64_t t = 0; t < T; ++t) {
        dequant_row(w_.embed, tokens[size_t(t)], e.data());
        for (int64_t i = 0; i < n; ++i) std::copy(e.begin(), e.end(), X.begin() + (t * n + i) * D);
    }
    if (opt.on_hidden) opt.on_hidden(0, X.data(), T);

    std::vector<float> u(size_t(T * D)), xn(size_t(T * D)), a(size_t(T * D));
    HcMix mix;
    for (size_t l = 0; l < c.layers.size(); ++l) {
        const auto& spec = c.layers[l];
        const auto& L = w_.layers[l];
        const Rope& rope = spec.attn == AttnType::Sliding ? rope_main_ : rope_compress_;
        // attention sublayer
        hc_pre(pool_, c, L.hc_attn, X.data(), T, u.data(), mix);
        for (int64_t t = 0; t < T; ++t) ops::rms_norm(u.data() + t * D, L.attn_norm.data(), xn.data() + t * D, D, c.rms_norm_eps);
        attention_forward(pool_, c, spec, L.attn, rope, xn.data(), T, pos0, st.layers[l], a.data());
        hc_post(c, mix, a.data(), X.data(), T);
        // MoE sublayer
        hc_pre(pool_, c, L.hc_ffn, X.data(), T, u.data(), mix);
        for (int64_t t = 0; t < T; ++t) ops::rms_norm(u.data() + t * D, L.ffn_norm.data(), xn.data() + t * D, D, c.rms_norm_eps);
        moe_forward(pool_, c, spec, L.ffn, xn.data(), tokens.data(), T, a.data());
        hc_post(c, mix, a.data(), X.data(), T);
        if (opt.on_hidden) opt.on_hidden(int(l + 1), X.data(), T);
    }
    st.pos += T;

    // Head: only the rows whose logits are wanted.
    const int64_t first = opt.all_logits ? 0 : T - 1, rows = T - first;
    hc_head(pool_, c, w_.hc_head, X.data() + first * n * D, rows, u.data());
    for (int64_t t = 0; t < rows; ++t) ops::rms_norm(u.data() + t * D, w_.norm.data(), xn.data() + t * D, D, c.rms_norm_eps);
    if (opt.on_hidden) opt.on_hidden(int(c.layers.size() + 1), xn.data(), rows);
    logits.resize(size_t(rows * V));
    linear(pool_, w_.head, xn.data(), logits.data(), rows);
}

}  // namespace dsv4
