#include "kernels/cpu/random_linear.h"

#include <cmath>
#include <cstring>
#include <random>

namespace dsv4 {

OwnedLinear random_linear(Linear::Format f, int64_t out, int64_t in, uint64_t seed, bool f32_scale) {
    std::mt19937_64 g(seed);
    OwnedLinear o;
    Linear& L = o.L;
    L.name = "random";
    L.format = f;
    L.out = out;
    L.in = in;
    std::uniform_int_distribution<int> byte(0, 255);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    switch (f) {
        case Linear::Format::F32: L.row_bytes = 4 * in; break;
        case Linear::Format::BF16:
        case Linear::Format::F16: L.row_bytes = 2 * in; break;
        case Linear::Format::FP8: L.row_bytes = in; L.block_out = 128; L.block_in = 128; break;
        case Linear::Format::FP4: L.row_bytes = (in + 1) / 2; L.block_out = 1; L.block_in = 32; break;
    }
    o.data.resize(size_t(L.row_bytes * out));
    switch (f) {
        case Linear::Format::F32:
            for (int64_t i = 0; i < out * in; ++i) {
                const float v = nd(g);
                std::memcpy(o.data.data() + 4 * i, &v, 4);
            }
            break;
        case Linear::Format::BF16:
            for (int64_t i = 0; i < out * in; ++i) {
                const float v = nd(g);
                uint32_t u;
                std::memcpy(&u, &v, 4);
                const uint16_t h = uint16_t(u >> 16);
                std::memcpy(o.data.data() + 2 * i, &h, 2);
            }
            break;
        case Linear::Format::F16:
            for (int64_t i = 0; i < out * in; ++i) {
                uint16_t h = uint16_t(byte(g) | (byte(g) << 8));
                if (((h >> 10) & 0x1f) == 31) h &= 0xbfff;
                std::memcpy(o.data.data() + 2 * i, &h, 2);
            }
            break;
        case Linear::Format::FP8:
        case Linear::Format::FP4:
            for (auto& b : o.data) {
                b = uint8_t(byte(g));
                if (f == Linear::Format::FP8 && (b & 0x7f) == 0x7f) b ^= 1;
            }
            break;
    }
    if (f == Linear::Format::FP8 || f == Linear::Format::FP4) {
        L.scale_cols = (in + L.block_in - 1) / L.block_in;
        const int64_t srows = (out + L.block_out - 1) / L.block_out;
        std::uniform_int_distribution<int> e(120, 132);
        if (f32_scale) {
            L.scale_dtype = DType::F32;
            o.scale.resize(size_t(srows * L.scale_cols * 4));
            for (int64_t i = 0; i < srows * L.scale_cols; ++i) {
                const float s = std::ldexp(1.0f + 0.37f * float(i % 5), e(g) - 127);
                std::memcpy(o.scale.data() + 4 * i, &s, 4);
            }
        } else {
            L.scale_dtype = DType::F8_E8M0;
            o.scale.resize(size_t(srows * L.scale_cols));
            for (auto& s : o.scale) s = uint8_t(e(g));
        }
        L.scale = o.scale.data();
    }
    L.data = o.data.data();
    return o;
}

}  // namespace dsv4
