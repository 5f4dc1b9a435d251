// Attention sublayer (dsv4-model.md "Attention"): low-rank q with per-head RMS, one shared kv head
// read as both K and V, partial interleaved RoPE, a sliding window plus compressed entries
// (CSA: chosen by the indexer; HCA: all finished ones), a per-head sink in the softmax
// denominator, inverse RoPE on the output, grouped output projection.
// The projections run over every row of the batch; windows, compressors and the indexer per sequence.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/matmul.h"
#include "model/model.h"
#include "model/ops.h"

namespace dsv4 {

void attention_forward(ThreadPool& pool, const ModelConfig& c, const LayerSpec& spec, const AttentionWeights& w,
                       const Rope& rope, const float* x, int64_t rows, std::span<const Segment> segs, float* out) {
    const int64_t H = c.num_attention_heads, d = c.head_dim, W = c.sliding_window, ql = c.q_lora_rank;
    const double eps = c.rms_norm_eps;
    std::vector<int64_t> pos(static_cast<size_t>(rows));
    for (auto& s : segs)
        for (int64_t t = 0; t < s.T; ++t) pos[size_t(s.begin + t)] = s.pos0 + t;

    // q = per-head rms(wq_b @ RMSNorm(wq_a @ x)), rotated at its position.
    // wq_a and wkv read the same x: one pass of the pool for both.
    std::vector<float> qa(size_t(rows * ql)), qr(size_t(rows * ql));
    avector<float> q(size_t(rows * H * d)), kv(size_t(rows * d));  // rows read by the attention kernels
    const ops::ProjJob first[] = {{{&w.wq_a, x, w.wq_a.in, qa.data(), ql, rows}},
                                  {{&w.wkv, x, w.wkv.in, kv.data(), d, rows}}};
    ops::project_many(pool, c, first);
    for (int64_t t = 0; t < rows; ++t) ops::rms_norm(qa.data() + t * ql, w.q_norm.data(), qr.data() + t * ql, ql, eps);
    ops::round_bf16(c, qr.data(), rows * ql);
    ops::project(pool, c, w.wq_b, qr.data(), q.data(), rows);
    // The rotation angles of each row's position, shared by its q heads, its kv and its output.
    const int64_t r = rope.dims();
    std::vector<float> cs(size_t(rows * r));
    for (int64_t t = 0; t < rows; ++t) rope.angles(pos[size_t(t)], cs.data() + t * r);
    std::vector<float> sq(ops::official(c) ? size_t(d) : 0);
    for (int64_t t = 0; t < rows; ++t)
        for (int64_t h = 0; h < H; ++h) {
            float* qh = q.data() + (t * H + h) * d;
            if (ops::official(c)) {  // the per-head q norm runs in bf16 tensor ops in the reference
                // bf16 squares summed in order in fp32; the rounding loops vectorize (rounding.h)
                for (int64_t i = 0; i < d; ++i) sq[size_t(i)] = qh[i] * qh[i];
                rnd::bf16_inplace(sq.data(), d);
                float ss = 0;
                for (int64_t i = 0; i < d; ++i) ss += sq[size_t(i)];
                float r = rnd::bf16(1.0f / std::sqrt(rnd::bf16(rnd::bf16(ss / float(d)) + float(eps))));
                for (int64_t i = 0; i < d; ++i) qh[i] *= r;
                rnd::bf16_inplace(qh, d);
            } else {
                ops::rms_norm(qh, nullptr, qh, d, eps);
            }
            rope.rotate(qh, d, cs.data() + t * r);
            ops::round_bf16(c, qh, d);
        }
    // kv = RMSNorm(wkv @ x) (projected above), rotated.
    for (int64_t t = 0; t < rows; ++t) {
        float* k = kv.data() + t * d;
        ops::rms_norm(k, w.kv_norm.data(), k, d, eps);
        ops::round_bf16(c, k, d);
        rope.rotate(k, d, cs.data() + t * r);
        ops::round_kv(c, k, d);
    }

    // Per sequence: the keys it sees (window kept from earlier calls + its new rows) and its
    // compressed entries, finished before attention reads them. The window keeps the last W-1
    // kv rows of earlier calls in a ring, position p at row p mod (W-1) (runtime/cache.h): read
    // in place, and only the new rows are written, after attention.
    const int64_t slots = W - 1;
    struct SegKeys {
        int64_t base = 0;  // the first position held (in the ring or new)
        std::vector<std::vector<int32_t>> selected;
    };
    std::vector<SegKeys> sk(segs.size());
    for (size_t i = 0; i < segs.size(); ++i) {
        const auto& s = segs[i];
        auto& st = *s.st;
        if (st.window_count > 0 && int64_t(st.window.size()) != slots * d)
            throw std::logic_error("attention: window ring of another model");
        sk[i].base = s.pos0 - st.window_count;
        const float* xs = x + s.begin * c.hidden_size;
        if (w.has_compressor) compressor_forward(pool, c, w.compressor, rope, xs, s.T, s.pos0, st.compressor);
        if (w.has_indexer) {
            compressor_forward(pool, c, w.indexer.compressor, rope, xs, s.T, s.pos0, st.indexer, /*indexer=*/true);
            indexer_select(pool, c, w, rope, qr.data() + s.begin * ql, xs, s.T, s.pos0, st.indexer, sk[i].selected);
        }
    }
    std::vector<int32_t> seg_of(static_cast<size_t>(rows));
    for (size_t i = 0; i < segs.size(); ++i)
        for (int64_t t = 0; t < segs[i].T; ++t) seg_of[size_t(segs[i].begin + t)] = int32_t(i);

    const int64_t m = spec.compress_ratio;
    std::vector<float> o(size_t(rows * H * d));
    const float scale = 1.0f / std::sqrt(float(d));
    const bool official = ops::official(c);
    // Work units: (token, block of heads). The heads of a token share its keys, so a block reads
    // each key row once for all its heads; decode (few tokens) splits the heads so every thread
    // has work.
    const int64_t want = 2 * pool.size();
    const int64_t hb = rows >= want ? H : std::max<int64_t>(1, H / std::max<int64_t>(1, (want + rows - 1) / rows));
    const int64_t nhb = (H + hb - 1) / hb;
    pool.parallel_for(rows * nhb, [&](int64_t b, int64_t e) {
        std::vector<float> logits, probs;
        std::vector<const float*> vals;
        std::vector<float> mx, denom;
        for (int64_t u = b; u < e; ++u) {
            const int64_t t = u / nhb, h0 = (u % nhb) * hb, nh = std::min(hb, H - h0), P = pos[size_t(t)];
            const size_t si = size_t(seg_of[size_t(t)]);
            const auto& keys = sk[si];
            const Segment& sg = segs[si];
            const CompressorState& comp = sg.st->compressor;
            vals.clear();
            for (int64_t p = std::max(P - W + 1, keys.base); p <= P; ++p)
                vals.push_back(p < sg.pos0 ? sg.st->window.data() + (p % slots) * d : kv.data() + (sg.begin + p - sg.pos0) * d);
            if (w.has_indexer) {
                for (int32_t s : keys.selected[size_t(t - segs[si].begin)]) vals.push_back(comp.entries.data() + int64_t(s) * d);
            } else if (w.has_compressor) {
                const int64_t ne = std::min(comp.n_entries, (P + 1) / m);
                for (int64_t s = 0; s < ne; ++s) vals.push_back(comp.entries.data() + s * d);
            }
            const int64_t n = int64_t(vals.size());
            const float* qt = q.data() + (t * H + h0) * d;
            float* ot = o.data() + (t * H + h0) * d;  // zero-initialised
            logits.resize(size_t(nh * n));
            probs.resize(size_t(nh * n));
            attn_dots(qt, d, nh, vals.data(), n, d, logits.data(), n);
            for (auto& l : logits) l *= scale;
            if (!official) {
                for (int64_t h = 0; h < nh; ++h) {
                    const float sink = w.attn_sink[size_t(h0 + h)];
                    const float* lg = logits.data() + h * n;
                    float* pr = probs.data() + h * n;
                    float mxh = sink;
                    for (int64_t j = 0; j < n; ++j) mxh = std::max(mxh, lg[j]);
                    float den = ew::exp(sink - mxh);  // the sink joins the denominator only
                    ew::exp_shifted(lg, mxh, pr, n);
                    for (int64_t j = 0; j < n; ++j) den += pr[j];
                    for (int64_t j = 0; j < n; ++j) pr[j] /= den;
                }
                attn_axpys(probs.data(), n, nh, vals.data(), n, d, ot, d);
            } else {
                // Rule 4: per block of 64 keys, probabilities relative to the running max are
                // rounded to bf16 before P.V; the denominator sums them unrounded; sink at the end.
                mx.assign(size_t(nh), -INFINITY);
                denom.assign(size_t(nh), 0.0f);
                for (int64_t b0 = 0; b0 < n; b0 += 64) {
                    const int64_t b1 = std::min(n, b0 + 64);
                    for (int64_t h = 0; h < nh; ++h) {
                        const float* lg = logits.data() + h * n;
                        float* pr = probs.data() + h * n;
                        float bm = mx[size_t(h)];
                        for (int64_t j = b0; j < b1; ++j) bm = std::max(bm, lg[j]);
                        const float alpha = ew::exp(mx[size_t(h)] - bm);
                        denom[size_t(h)] *= alpha;
                        float* oh = ot + h * d;
                        for (int64_t i = 0; i < d; ++i) oh[i] *= alpha;
                        ew::exp_shifted(lg + b0, bm, pr + b0, b1 - b0);
                        for (int64_t j = b0; j < b1; ++j) denom[size_t(h)] += pr[j];
                        rnd::bf16_inplace(pr + b0, b1 - b0);
                        mx[size_t(h)] = bm;
                    }
                    attn_axpys(probs.data() + b0, n, nh, vals.data() + b0, b1 - b0, d, ot, d);
                }
                for (int64_t h = 0; h < nh; ++h) {
                    float* oh = ot + h * d;
                    const float den = denom[size_t(h)] + ew::exp(w.attn_sink[size_t(h0 + h)] - mx[size_t(h)]);
                    for (int64_t i = 0; i < d; ++i) oh[i] /= den;
                    rnd::bf16_inplace(oh, d);
                }
            }
            for (int64_t h = 0; h < nh; ++h) {
                float* oh = ot + h * d;
                rope.rotate(oh, d, cs.data() + t * r, /*inverse=*/true);
                ops::round_bf16(c, oh, d);
            }
        }
    });

    // Keep each sequence's last W-1 kv rows for its next call: the new ones into their slots.
    if (slots > 0)
        for (const auto& s : segs) {
            auto& st = *s.st;
            st.window.resize(size_t(slots * d));
            for (int64_t p = std::max(s.pos0, s.pos0 + s.T - slots); p < s.pos0 + s.T; ++p)
                std::copy_n(kv.data() + (s.begin + p - s.pos0) * d, d, st.window.data() + (p % slots) * d);
            st.window_count = std::min(slots, st.window_count + s.T);
        }

    // Grouped output projection: group g (consecutive heads) through its own rows of wo_a.
    const int64_t G = c.o_groups, olr = c.o_lora_rank, gin = H * d / G;
    std::vector<float> oa(size_t(rows * G * olr));
    std::vector<ops::ProjJob> groups;
    for (int64_t g = 0; g < G; ++g)
        groups.push_back({{&w.wo_a, o.data() + g * gin, H * d, oa.data() + g * olr, G * olr, rows, g * olr, (g + 1) * olr},
                          ops::Proj::Bf16});
    ops::project_many(pool, c, groups);  // the groups in one pass of the pool
    ops::project(pool, c, w.wo_b, oa.data(), out, rows);
}

}  // namespace dsv4
