// Lightning indexer (dsv4-model.md "Compressed entries", CSA): scores every eligible compressed
// entry I(t,s) = sum_h w_h * relu(qI_h . K_s) / sqrt(index_head_dim), keeps the top index_topk.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/cpu/matmul.h"
#include "model/model.h"
#include "model/ops.h"

namespace dsv4 {

std::vector<int32_t> topk_indices(const float* scores, int64_t n, int64_t k) {
    std::vector<int32_t> idx(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), 0);
    k = std::min(k, n);
    // Larger score first; exact ties go to the lower index.
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
        return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
    });
    idx.resize(size_t(k));
    std::sort(idx.begin(), idx.end());
    return idx;
}

void indexer_select(ThreadPool& pool, const ModelConfig& c, const AttentionWeights& w, const Rope& rope,
                    const float* qr, const float* x, int64_t T, int64_t pos0, const CompressorState& keys,
                    std::vector<std::vector<int32_t>>& selected) {
    const int64_t nI = c.index_n_heads, dI = c.index_head_dim, m = w.indexer.compressor.ratio;
    std::vector<float> q(size_t(T * nI * dI)), hw(size_t(T * nI));
    const ops::ProjJob proj[] = {
        {{&w.indexer.wq_b, qr, w.indexer.wq_b.in, q.data(), nI * dI, T}, ops::Proj::Quantized},
        {{&w.indexer.weights_proj, x, w.indexer.weights_proj.in, hw.data(), nI, T}, ops::Proj::Bf16}};
    ops::project_many(pool, c, proj);  // one pass of the pool for both
    const float wscale = 1.0f / std::sqrt(float(nI)), sscale = 1.0f / std::sqrt(float(dI));
    const bool official = ops::official(c);
    selected.assign(size_t(T), {});
    // The query heads of token t, rotated and rounded as the rules say.
    auto prepare_query = [&](int64_t t) {
        float* qt = q.data() + t * nI * dI;
        std::vector<float> cs(size_t(rope.dims()));
        rope.angles(pos0 + t, cs.data());
        for (int64_t h = 0; h < nI; ++h) {
            rope.rotate(qt + h * dI, dI, cs.data());
            ops::round_bf16(c, qt + h * dI, dI);
            ops::round_index_vector(c, qt + h * dI, dI);
        }
    };
    auto eligible = [&](int64_t t) { return std::min(keys.n_entries, (pos0 + t + 1) / m); };
    // scores[s - s0] for entries [s0, s1) of token t: every head's q.K from the SIMD kernel
    // (entries x heads tiles, each entry read once), then the weighted relu sum over heads.
    auto score = [&](int64_t t, int64_t s0, int64_t s1, float* out, std::vector<const float*>& rows,
                     std::vector<float>& dots) {
        const int64_t n = s1 - s0;
        rows.resize(size_t(n));
        for (int64_t s = s0; s < s1; ++s) rows[size_t(s - s0)] = keys.entries.data() + s * dI;
        dots.resize(size_t(nI * n));
        attn_dots(q.data() + t * nI * dI, dI, nI, rows.data(), n, dI, dots.data(), n);
        // out[j] = sum over heads h, in order, of relu(q_h . k_j) * weight_h: heads outside,
        // entries inside, so the loops (and the official roundings) run as vectors.
        const float* hwt = hw.data() + t * nI;
        std::fill(out, out + n, 0.0f);
        for (int64_t h = 0; h < nI; ++h) {
            float* dh = dots.data() + h * n;
            if (official) {  // rule 5: q.k, the head weights and the sum over heads in bf16
                const float wh = rnd::bf16(hwt[h] * (wscale * sscale));
                rnd::bf16_inplace(dh, n);
                for (int64_t j = 0; j < n; ++j) dh[j] = std::max(dh[j], 0.0f) * wh;
                rnd::bf16_inplace(dh, n);
                for (int64_t j = 0; j < n; ++j) out[j] += dh[j];
                rnd::bf16_inplace(out, n);
            } else {
                const float wh = hwt[h] * wscale;
                for (int64_t j = 0; j < n; ++j) out[j] += std::max(dh[j], 0.0f) * sscale * wh;
            }
        }
    };
    if (T >= 2 * int64_t(pool.size())) {  // prefill: tokens over the threads
        pool.parallel_for(T, [&](int64_t tb, int64_t te) {
            std::vector<float> scores, dots;
            std::vector<const float*> rows;
            for (int64_t t = tb; t < te; ++t) {
                prepare_query(t);
                const int64_t ne = eligible(t);
                scores.resize(size_t(ne));
                score(t, 0, ne, scores.data(), rows, dots);
                selected[size_t(t)] = topk_indices(scores.data(), ne, c.index_topk);
            }
        });
        return;
    }
    // decode: each token's entries over the threads (at long context they are the work)
    std::vector<float> scores;
    for (int64_t t = 0; t < T; ++t) {
        prepare_query(t);
        const int64_t ne = eligible(t);
        scores.resize(size_t(ne));
        constexpr int64_t kBlock = 256;
        pool.parallel_for((ne + kBlock - 1) / kBlock, [&](int64_t bb, int64_t be) {
            std::vector<float> dots;
            std::vector<const float*> rows;
            for (int64_t blk = bb; blk < be; ++blk) {
                const int64_t s0 = blk * kBlock, s1 = std::min(ne, s0 + kBlock);
                score(t, s0, s1, scores.data() + s0, rows, dots);
            }
        });
        selected[size_t(t)] = topk_indices(scores.data(), ne, c.index_topk);
    }
}

}  // namespace dsv4
