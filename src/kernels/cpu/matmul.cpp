#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace dsv4 {

void dequant_row(const Linear& W, int64_t row, float* out) {
    const uint8_t* r = W.data + row * W.row_bytes;
    const int64_t n = W.in;
    switch (W.format) {
        case Linear::Format::F32: std::memcpy(out, r, size_t(n) * 4); break;
        case Linear::Format::BF16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, r + 2 * i, 2);
                out[i] = bf16_to_f32(h);
            }
            break;
        case Linear::Format::F16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, r + 2 * i, 2);
                out[i] = f16_to_f32(h);
            }
            break;
        case Linear::Format::FP8: {
            float lut[256];
            for (int b = 0; b < 256; ++b) lut[b] = e4m3_to_f32(uint8_t(b));
            for (int64_t c0 = 0; c0 < n; c0 += W.block_in) {
                float s = W.scale_at(row, c0);
                int64_t c1 = std::min(n, c0 + W.block_in);
                for (int64_t i = c0; i < c1; ++i) out[i] = lut[r[i]] * s;
            }
            break;
        }
        case Linear::Format::FP4:
            for (int64_t c0 = 0; c0 < n; c0 += W.block_in) {
                float s = W.scale_at(row, c0);
                int64_t c1 = std::min(n, c0 + W.block_in);
                for (int64_t i = c0; i < c1; ++i) {
                    uint8_t byte = r[i / 2];
                    out[i] = e2m1_to_f32((i & 1) ? (byte >> 4) : (byte & 0xf)) * s;
                }
            }
            break;
    }
}

float dot_f32(const float* a, const float* b, int64_t n) {
    // 16 independent partial sums: vectorizes without reassociating a single chain.
    float acc[16] = {};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; ++k) acc[k] += a[i + k] * b[i + k];
    float tail = 0;
    for (; i < n; ++i) tail += a[i] * b[i];
    float s = 0;
    for (int k = 0; k < 16; ++k) s += acc[k];
    return s + tail;
}

void matmul(ThreadPool& pool, const Linear& W, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t T,
            int64_t row_begin, int64_t row_end) {
    if (row_end < 0) row_end = W.out;
    const int64_t rows = row_end - row_begin;
    if (rows <= 0 || T <= 0) return;
    const int64_t in = W.in;
    constexpr int64_t kTile = 4;  // rows dequantized together, so each x row is read once per tile
    pool.parallel_for(
        (rows + kTile - 1) / kTile,
        [&](int64_t tb, int64_t te) {
            std::vector<float> buf(size_t(kTile * in));
            for (int64_t tile = tb; tile < te; ++tile) {
                const int64_t r0 = row_begin + tile * kTile;
                const int64_t nr = std::min(kTile, row_end - r0);
                for (int64_t k = 0; k < nr; ++k) dequant_row(W, r0 + k, buf.data() + k * in);
                for (int64_t t = 0; t < T; ++t) {
                    const float* xt = x + t * ldx;
                    float* yt = y + t * ldy + (r0 - row_begin);
                    for (int64_t k = 0; k < nr; ++k) yt[k] = dot_f32(buf.data() + k * in, xt, in);
                }
            }
        },
        std::max<int64_t>(1, 65536 / (kTile * std::max<int64_t>(in, 1) * T)));
}

}  // namespace dsv4
