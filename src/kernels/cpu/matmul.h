// Matrix products against stored weights (F32 / BF16 / F16 / FP8 block-scaled / MXFP4), fp32
// accumulation. Weights are dequantized row by row inside the kernel, never as a whole.
#pragma once
#include <cstdint>

#include "kernels/cpu/threadpool.h"
#include "model/weights.h"

namespace dsv4 {

// Row `row` of W as fp32 (in values) into out.
void dequant_row(const Linear& W, int64_t row, float* out);

// y[t*ldy + (o - row_begin)] = sum_i W[o, i] * x[t*ldx + i] for t < T, o in [row_begin, row_end).
// row_end < 0 means W.out. Threads split the rows.
void matmul(ThreadPool& pool, const Linear& W, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t T,
            int64_t row_begin = 0, int64_t row_end = -1);

// Same as matmul with contiguous rows: x [T, W.in] -> y [T, W.out].
inline void linear(ThreadPool& pool, const Linear& W, const float* x, float* y, int64_t T) {
    matmul(pool, W, x, W.in, y, W.out, T);
}

float dot_f32(const float* a, const float* b, int64_t n);

}  // namespace dsv4
