// Manifold-constrained hyper-connections (dsv4-model.md "Block = two hyper-connected sublayers").
// The stream loops run at every sublayer of every token: built per instruction set (DSV4_CLONES)
// and without fused multiply-adds (CMakeLists.txt), so every build gives the same bits.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/clones.h"
#include "kernels/cpu/matmul.h"
#include "model/model.h"
#include "model/ops.h"

namespace dsv4 {

void sinkhorn(float* C, int64_t n, int64_t iters, double eps) {
    const float e = float(eps);
    auto cols = [&] {
        for (int64_t k = 0; k < n; ++k) {
            float s = 0;
            for (int64_t j = 0; j < n; ++j) s += C[j * n + k];
            for (int64_t j = 0; j < n; ++j) C[j * n + k] /= (s + e);
        }
    };
    auto rows = [&] {
        for (int64_t j = 0; j < n; ++j) {
            float s = 0;
            for (int64_t k = 0; k < n; ++k) s += C[j * n + k];
            for (int64_t k = 0; k < n; ++k) C[j * n + k] /= (s + e);
        }
    };
    cols();
    for (int64_t it = 0; it + 1 < iters; ++it) {
        rows();
        cols();
    }
}

// f = rms(flatten(X_t)) for every token, then mix = fn @ f.
DSV4_CLONES static std::vector<float> hc_mix(ThreadPool& pool, const ModelConfig& c, const Linear& fn, const float* X, int64_t T) {
    const int64_t nD = c.hc_mult * c.hidden_size;
    std::vector<float> f(size_t(T * nD));
    for (int64_t t = 0; t < T; ++t) ops::rms_norm(X + t * nD, nullptr, f.data() + t * nD, nD, c.rms_norm_eps);
    std::vector<float> mix(size_t(T * fn.out));
    linear(pool, fn, f.data(), mix.data(), T);
    return mix;
}

DSV4_CLONES void hc_pre(ThreadPool& pool, const ModelConfig& c, const HyperConnWeights& w, const float* X, int64_t T, float* u,
            HcMix& out) {
    const int64_t n = c.hc_mult, D = c.hidden_size, R = (2 + n) * n;
    const float eps = float(c.hc_eps);
    auto mix = hc_mix(pool, c, w.fn, X, T);
    out.post.assign(size_t(T * n), 0.0f);
    out.comb.assign(size_t(T * n * n), 0.0f);
    std::vector<float> pre(static_cast<size_t>(n));
    for (int64_t t = 0; t < T; ++t) {
        const float* m = mix.data() + t * R;
        for (int64_t i = 0; i < n; ++i) {
            pre[size_t(i)] = ops::sigmoid(m[i] * w.scale[0] + w.base[size_t(i)]) + eps;
            out.post[size_t(t * n + i)] = 2.0f * ops::sigmoid(m[n + i] * w.scale[1] + w.base[size_t(n + i)]);
        }
        // comb: softmax over k within each row j, + eps, then Sinkhorn.
        float* C = out.comb.data() + t * n * n;
        for (int64_t j = 0; j < n; ++j) {
            float mx = -INFINITY;
            for (int64_t k = 0; k < n; ++k) {
                C[j * n + k] = m[2 * n + j * n + k] * w.scale[2] + w.base[size_t(2 * n + j * n + k)];
                mx = std::max(mx, C[j * n + k]);
            }
            float s = 0;
            for (int64_t k = 0; k < n; ++k) s += (C[j * n + k] = std::exp(C[j * n + k] - mx));
            for (int64_t k = 0; k < n; ++k) C[j * n + k] = C[j * n + k] / s + eps;
        }
        sinkhorn(C, n, c.hc_sinkhorn_iters, c.hc_eps);
        // u = sum_i pre_i X_i (streams in order i = 0.., each a whole row: vectorised over d)
        float* ut = u + t * D;
        const float* Xt = X + t * n * D;
        std::fill(ut, ut + D, 0.0f);
        for (int64_t i = 0; i < n; ++i) {
            const float p = pre[size_t(i)];
            const float* Xi = Xt + i * D;
            for (int64_t d = 0; d < D; ++d) ut[d] += p * Xi[d];
        }
        ops::round_bf16(c, ut, D);
    }
}

DSV4_CLONES void hc_post(const ModelConfig& c, const HcMix& mix, const float* a, float* X, int64_t T) {
    const int64_t n = c.hc_mult, D = c.hidden_size;
    std::vector<float> old(size_t(n * D));
    for (int64_t t = 0; t < T; ++t) {
        float* Xt = X + t * n * D;
        std::copy(Xt, Xt + n * D, old.begin());
        const float* C = mix.comb.data() + t * n * n;
        const float* post = mix.post.data() + t * n;
        const float* at = a + t * D;
        // X'_k = post_k a + sum_j C[j,k] X_j, terms added in that order, a row at a time.
        for (int64_t k = 0; k < n; ++k) {
            float* dst = Xt + k * D;
            const float pk = post[k];
            for (int64_t d = 0; d < D; ++d) dst[d] = pk * at[d];
            for (int64_t j = 0; j < n; ++j) {
                const float cjk = C[j * n + k];
                const float* oj = old.data() + j * D;
                for (int64_t d = 0; d < D; ++d) dst[d] += cjk * oj[d];
            }
        }
        ops::round_bf16(c, Xt, n * D);  // official: residual streams are stored bf16
    }
}

DSV4_CLONES void hc_head(ThreadPool& pool, const ModelConfig& c, const HyperConnWeights& w, const float* X, int64_t T, float* y) {
    const int64_t n = c.hc_mult, D = c.hidden_size;
    auto mix = hc_mix(pool, c, w.fn, X, T);
    for (int64_t t = 0; t < T; ++t) {
        const float* Xt = X + t * n * D;
        float* yt = y + t * D;
        std::fill(yt, yt + D, 0.0f);
        for (int64_t i = 0; i < n; ++i) {
            float p = ops::sigmoid(mix[size_t(t * n + i)] * w.scale[0] + w.base[size_t(i)]) + float(c.hc_eps);
            for (int64_t d = 0; d < D; ++d) yt[d] += p * Xt[i * D + d];
        }
        ops::round_bf16(c, yt, D);
    }
}

}  // namespace dsv4
