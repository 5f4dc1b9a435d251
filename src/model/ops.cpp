#include "model/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/matmul.h"

namespace dsv4::ops {

void project_many(ThreadPool& pool, const ModelConfig& c, std::span<const ProjJob> jobs) {
    const bool off = official(c);
    std::vector<MatmulJob> mm;
    std::vector<std::vector<float>> xq(jobs.size());
    struct Rounded {
        const float* x;
        int64_t ldx, T, in;
        const float* q;
    };
    std::vector<Rounded> rounded;
    mm.reserve(jobs.size());
    for (size_t i = 0; i < jobs.size(); ++i) {
        const MatmulJob& j = jobs[i].mm;
        const Linear& W = *j.W;
        MatmulJob m = j;
        const bool quantized_weight = W.format == Linear::Format::FP8 || W.format == Linear::Format::FP4;
        if (off && jobs[i].kind == Proj::Quantized && quantized_weight) {  // rule 1: QDQ8(x, 128) per row
            // rounded once per distinct x (wq_a and wkv read the same one)
            auto prev = std::find_if(rounded.begin(), rounded.end(), [&](const Rounded& r) {
                return r.x == j.x && r.ldx == j.ldx && r.T == j.T && r.in == W.in;
            });
            if (prev == rounded.end()) {
                std::vector<float>& q = xq[i];
                q.resize(size_t(j.T * W.in));
                for (int64_t t = 0; t < j.T; ++t) {
                    std::copy_n(j.x + t * j.ldx, W.in, q.data() + t * W.in);
                    rnd::qdq8(q.data() + t * W.in, W.in, 128);
                }
                prev = rounded.insert(rounded.end(), Rounded{j.x, j.ldx, j.T, W.in, q.data()});
            }
            m.x = prev->q;
            m.ldx = W.in;
        }
        mm.push_back(m);
    }
    matmul_batch(pool, mm);
    if (!off) return;
    for (const ProjJob& pj : jobs) {
        if (pj.kind == Proj::F32) continue;
        const MatmulJob& j = pj.mm;
        const int64_t rows = (j.row_end < 0 ? j.W->out : j.row_end) - j.row_begin;
        for (int64_t t = 0; t < j.T; ++t) rnd::bf16_inplace(j.y + t * j.ldy, rows);
    }
}

void project(ThreadPool& pool, const ModelConfig& c, const Linear& W, const float* x, int64_t ldx, float* y, int64_t ldy,
             int64_t T, Proj kind, int64_t row_begin, int64_t row_end) {
    const ProjJob job{{&W, x, ldx, y, ldy, T, row_begin, row_end}, kind};
    project_many(pool, c, std::span<const ProjJob>(&job, 1));
}

void hadamard_rotate(float* x, int64_t n) {
    int64_t P = 1;
    while (P < n) P <<= 1;
    std::vector<float> v(size_t(P), 0.0f);
    std::copy_n(x, n, v.begin());
    for (int64_t h = 1; h < P; h <<= 1)  // fast Walsh-Hadamard transform (Sylvester order)
        for (int64_t i = 0; i < P; i += 2 * h)
            for (int64_t j = i; j < i + h; ++j) {
                float a = v[size_t(j)], b = v[size_t(j + h)];
                v[size_t(j)] = a + b;
                v[size_t(j + h)] = a - b;
            }
    const float s = 1.0f / std::sqrt(float(P));
    for (int64_t i = 0; i < n; ++i) x[i] = v[size_t(i)] * s;
}

void round_kv(const ModelConfig& c, float* kv, int64_t dim) {
    if (!official(c)) return;
    rnd::bf16_inplace(kv, dim);
    rnd::qdq8(kv, dim - c.rope_dim, 64);
}

void round_index_vector(const ModelConfig& c, float* x, int64_t dim) {
    if (!official(c)) return;
    hadamard_rotate(x, dim);
    rnd::bf16_inplace(x, dim);
    rnd::qdq4(x, dim, 32);
}

}  // namespace dsv4::ops
