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
    ops::project(pool, c, w.indexer.wq_b, qr, q.data(), T, ops::Proj::Quantized);
    ops::project(pool, c, w.indexer.weights_proj, x, hw.data(), T, ops::Proj::Bf16);
    const float wscale = 1.0f / std::sqrt(float(nI)), sscale = 1.0f / std::sqrt(float(dI));
    const bool official = ops::official(c);
    selected.assign(size_t(T), {});
    pool.parallel_for(T, [&](int64_t tb, int64_t te) {
        std::vector<float> scores;
        for (int64_t t = tb; t < te; ++t) {
            const int64_t P = pos0 + t;
            float* qt = q.data() + t * nI * dI;
            for (int64_t h = 0; h < nI; ++h) {
                rope.apply(qt + h * dI, dI, P);
                ops::round_bf16(c, qt + h * dI, dI);
                ops::round_index_vector(c, qt + h * dI, dI);
            }
            const int64_t ne = std::min(keys.n_entries, (P + 1) / m);
            scores.assign(size_t(ne), 0.0f);
            for (int64_t s = 0; s < ne; ++s) {
                const float* K = keys.entries.data() + s * dI;
                float acc = 0;
                for (int64_t h = 0; h < nI; ++h) {
                    float dotv = dot_f32(qt + h * dI, K, dI);
                    if (official) {  // rule 5: q.k, the head weights and the sum over heads in bf16
                        float wh = rnd::bf16(hw[size_t(t * nI + h)] * (wscale * sscale));
                        acc = rnd::bf16(acc + rnd::bf16(std::max(rnd::bf16(dotv), 0.0f) * wh));
                    } else {
                        acc += std::max(dotv, 0.0f) * sscale * (hw[size_t(t * nI + h)] * wscale);
                    }
                }
                scores[size_t(s)] = acc;
            }
            selected[size_t(t)] = topk_indices(scores.data(), ne, c.index_topk);
        }
    });
}

}  // namespace dsv4
