#include "model/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/matmul.h"

namespace dsv4::ops {

void project(ThreadPool& pool, const ModelConfig& c, const Linear& W, const float* x, int64_t ldx, float* y, int64_t ldy,
             int64_t T, Proj kind, int64_t row_begin, int64_t row_end) {
    if (!official(c) || kind == Proj::F32) {
        matmul(pool, W, x, ldx, y, ldy, T, row_begin, row_end);
        return;
    }
    const bool quantized_weight = W.format == Linear::Format::FP8 || W.format == Linear::Format::FP4;
    if (kind == Proj::Quantized && quantized_weight) {
        std::vector<float> xq(size_t(T * W.in));
        for (int64_t t = 0; t < T; ++t) {
            std::copy_n(x + t * ldx, W.in, xq.data() + t * W.in);
            rnd::qdq8(xq.data() + t * W.in, W.in, 128);
        }
        matmul(pool, W, xq.data(), W.in, y, ldy, T, row_begin, row_end);
    } else {
        matmul(pool, W, x, ldx, y, ldy, T, row_begin, row_end);
    }
    const int64_t rows = (row_end < 0 ? W.out : row_end) - row_begin;
    for (int64_t t = 0; t < T; ++t) rnd::bf16_inplace(y + t * ldy, rows);
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
