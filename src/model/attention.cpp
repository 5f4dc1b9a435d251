// Attention sublayer (dsv4-model.md "Attention"): low-rank q with per-head RMS, one shared kv head
// read as both K and V, partial interleaved RoPE, a sliding window plus compressed entries
// (CSA: chosen by the indexer; HCA: all finished ones), a per-head sink in the softmax
// denominator, inverse RoPE on the output, grouped output projection.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/matmul.h"
#include "model/model.h"
#include "model/ops.h"

namespace dsv4 {

void attention_forward(ThreadPool& pool, const ModelConfig& c, const LayerSpec& spec, const AttentionWeights& w,
                       const Rope& rope, const float* x, int64_t T, int64_t pos0, LayerState& st, float* out) {
    const int64_t H = c.num_attention_heads, d = c.head_dim, W = c.sliding_window, ql = c.q_lora_rank;
    const double eps = c.rms_norm_eps;

    // q = per-head rms(wq_b @ RMSNorm(wq_a @ x)), rotated at its position.
    std::vector<float> qa(size_t(T * ql)), qr(size_t(T * ql)), q(size_t(T * H * d));
    linear(pool, w.wq_a, x, qa.data(), T);
    for (int64_t t = 0; t < T; ++t) ops::rms_norm(qa.data() + t * ql, w.q_norm.data(), qr.data() + t * ql, ql, eps);
    linear(pool, w.wq_b, qr.data(), q.data(), T);
    for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < H; ++h) {
            float* qh = q.data() + (t * H + h) * d;
            ops::rms_norm(qh, nullptr, qh, d, eps);
            rope.apply(qh, d, pos0 + t);
        }
    // kv = RMSNorm(wkv @ x), rotated; appended after the window kept from earlier calls.
    const int64_t kept = st.window_count;
    std::vector<float> keys(size_t((kept + T) * d));
    std::copy(st.window.begin(), st.window.begin() + kept * d, keys.begin());
    std::vector<float> kvp(size_t(T * d));
    linear(pool, w.wkv, x, kvp.data(), T);
    for (int64_t t = 0; t < T; ++t) {
        float* k = keys.data() + (kept + t) * d;
        ops::rms_norm(kvp.data() + t * d, w.kv_norm.data(), k, d, eps);
        rope.apply(k, d, pos0 + t);
    }
    const int64_t base = pos0 - kept;  // position of keys[0]

    // Compressed entries of this layer (finished before attention reads them).
    std::vector<std::vector<int32_t>> selected;
    if (w.has_compressor) compressor_forward(pool, c, w.compressor, rope, x, T, pos0, st.compressor);
    if (w.has_indexer) {
        compressor_forward(pool, c, w.indexer.compressor, rope, x, T, pos0, st.indexer);
        indexer_select(pool, c, w, rope, qr.data(), x, T, pos0, st.indexer, selected);
    }
    const CompressorState& comp = st.compressor;
    const int64_t m = spec.compress_ratio;

    std::vector<float> o(size_t(T * H * d));
    const float scale = 1.0f / std::sqrt(float(d));
    pool.parallel_for(T * H, [&](int64_t b, int64_t e) {
        std::vector<float> logits;
        std::vector<const float*> vals;
        for (int64_t th = b; th < e; ++th) {
            const int64_t t = th / H, h = th % H, P = pos0 + t;
            const float* qh = q.data() + (t * H + h) * d;
            vals.clear();
            for (int64_t p = std::max(P - W + 1, base); p <= P; ++p) vals.push_back(keys.data() + (p - base) * d);
            if (w.has_indexer) {
                for (int32_t s : selected[size_t(t)]) vals.push_back(comp.entries.data() + int64_t(s) * d);
            } else if (w.has_compressor) {
                const int64_t ne = std::min(comp.n_entries, (P + 1) / m);
                for (int64_t s = 0; s < ne; ++s) vals.push_back(comp.entries.data() + s * d);
            }
            logits.resize(vals.size());
            const float sink = w.attn_sink[size_t(h)];
            float mx = sink;
            for (size_t j = 0; j < vals.size(); ++j) {
                logits[j] = dot_f32(qh, vals[j], d) * scale;
                mx = std::max(mx, logits[j]);
            }
            float denom = std::exp(sink - mx);  // the sink joins the denominator only
            for (auto& l : logits) denom += (l = std::exp(l - mx));
            float* oh = o.data() + (t * H + h) * d;
            std::fill(oh, oh + d, 0.0f);
            for (size_t j = 0; j < vals.size(); ++j) {
                const float p = logits[j] / denom;
                const float* v = vals[j];
                for (int64_t i = 0; i < d; ++i) oh[i] += p * v[i];
            }
            rope.apply(oh, d, P, /*inverse=*/true);
        }
    });

    // Keep the last W-1 kv rows for the next call.
    const int64_t total = kept + T, keep = std::min(W - 1, total);
    st.window.assign(keys.begin() + (total - keep) * d, keys.end());
    st.window_count = keep;

    // Grouped output projection: group g (consecutive heads) through its own rows of wo_a.
    const int64_t G = c.o_groups, olr = c.o_lora_rank, gin = H * d / G;
    std::vector<float> oa(size_t(T * G * olr));
    for (int64_t g = 0; g < G; ++g)
        matmul(pool, w.wo_a, o.data() + g * gin, H * d, oa.data() + g * olr, G * olr, T, g * olr, (g + 1) * olr);
    linear(pool, w.wo_b, oa.data(), out, T);
}

}  // namespace dsv4
