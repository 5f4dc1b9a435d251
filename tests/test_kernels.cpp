// Every SIMD matmul path this CPU has against the portable scalar path, on random shapes and
// formats: odd sizes, partial 128-blocks and 32-blocks, row sub-ranges, T = 1 and T > 1.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/matmul.h"

using namespace dsv4;

namespace {

struct OwnedLinear {
    std::vector<uint8_t> data, scale;
    Linear L;
};

// Random weights in `f`; FP8 bytes avoid the NaN codes, scales are powers of two near 1.
OwnedLinear make_linear(Linear::Format f, int64_t out, int64_t in, std::mt19937& g, bool f32_scale = false) {
    OwnedLinear o;
    Linear& L = o.L;
    L.name = "test";
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
        case Linear::Format::FP4: L.row_bytes = in / 2; L.block_out = 1; L.block_in = 32; break;
    }
    o.data.resize(size_t(L.row_bytes * out));
    for (int64_t i = 0; i < out * in; ++i) {
        float v = nd(g);
        switch (f) {
            case Linear::Format::F32: std::memcpy(o.data.data() + 4 * i, &v, 4); break;
            case Linear::Format::BF16: {
                uint32_t u;
                std::memcpy(&u, &v, 4);
                uint16_t h = uint16_t(u >> 16);
                std::memcpy(o.data.data() + 2 * i, &h, 2);
                break;
            }
            case Linear::Format::F16: {  // random normal-range halves, some subnormals
                uint16_t h = uint16_t(byte(g) | (byte(g) << 8));
                if (((h >> 10) & 0x1f) == 31) h &= 0xbfff;
                std::memcpy(o.data.data() + 2 * i, &h, 2);
                break;
            }
            default: break;
        }
    }
    if (f == Linear::Format::FP8 || f == Linear::Format::FP4) {
        for (auto& b : o.data) {
            b = uint8_t(byte(g));
            if (f == Linear::Format::FP8 && (b & 0x7f) == 0x7f) b ^= 1;
        }
        L.scale_cols = (in + L.block_in - 1) / L.block_in;
        const int64_t srows = (out + L.block_out - 1) / L.block_out;
        std::uniform_int_distribution<int> e(120, 132);
        if (f32_scale) {
            L.scale_dtype = DType::F32;
            o.scale.resize(size_t(srows * L.scale_cols * 4));
            for (int64_t i = 0; i < srows * L.scale_cols; ++i) {
                float s = std::ldexp(1.0f + 0.37f * float(i % 5), e(g) - 127);
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

}  // namespace

TEST(Kernels, EverySimdPathMatchesScalarOnRandomShapes) {
    std::mt19937 g(11);
    ThreadPool pool(2);
    using F = Linear::Format;
    struct Case { F f; int64_t out, in; bool f32_scale; };
    const Case cases[] = {
        {F::F32, 7, 33, false},   {F::F32, 64, 256, false},  {F::BF16, 37, 130, false}, {F::BF16, 129, 2048, false},
        {F::F16, 19, 77, false},  {F::F16, 40, 512, false},  {F::FP8, 5, 100, false},   {F::FP8, 130, 300, false},
        {F::FP8, 257, 384, false}, {F::FP8, 33, 260, true}, {F::FP4, 3, 32, false},    {F::FP4, 45, 2 * 161, false},
        {F::FP4, 70, 1024, false}, {F::FP4, 17, 96, true},  {F::FP4, 9, 18, false},    {F::BF16, 1, 8, false},
    };
    std::vector<Isa> isas;
    for (Isa i : {Isa::Avx2, Isa::Avx512})
        if (isa_supported(i)) isas.push_back(i);
    if (isas.empty()) GTEST_SKIP() << "no SIMD path on this CPU";
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (const auto& c : cases) {
        auto W = make_linear(c.f, c.out, c.in, g, c.f32_scale);
        // dense copy for the error bound sum |w| |x|
        std::vector<float> dense(size_t(c.out * c.in));
        for (int64_t o = 0; o < c.out; ++o) dequant_row(W.L, o, dense.data() + o * c.in);
        for (int64_t T : {1, 2, 5, 9}) {
            const int64_t ldx = c.in + 3;
            std::vector<float> x(size_t(T * ldx));
            for (auto& v : x) v = nd(g);
            for (auto [rb, re] : {std::pair<int64_t, int64_t>{0, c.out}, {c.out / 3, c.out - c.out / 4}}) {
                if (re <= rb) continue;
                const int64_t ldy = re - rb + 2;
                std::vector<float> ref(size_t(T * ldy), -9.0f);
                matmul(pool, W.L, x.data(), ldx, ref.data(), ldy, T, rb, re, Isa::Scalar);
                for (Isa isa : isas) {
                    std::vector<float> y(size_t(T * ldy), -9.0f);
                    matmul(pool, W.L, x.data(), ldx, y.data(), ldy, T, rb, re, isa);
                    for (int64_t t = 0; t < T; ++t) {
                        for (int64_t o = rb; o < re; ++o) {
                            double bound = 0;
                            for (int64_t i = 0; i < c.in; ++i)
                                bound += std::fabs(double(dense[size_t(o * c.in + i)]) * x[size_t(t * ldx + i)]);
                            const float a = y[size_t(t * ldy + o - rb)], b = ref[size_t(t * ldy + o - rb)];
                            ASSERT_NEAR(a, b, 1e-6 * bound + 1e-30)
                                << isa_name(isa) << " " << format_name(c.f) << " " << c.out << "x" << c.in << " T=" << T
                                << " row " << o << " token " << t;
                        }
                        // the padding past the range is untouched
                        EXPECT_EQ(y[size_t(t * ldy + re - rb)], -9.0f);
                    }
                }
            }
        }
    }
}

TEST(Kernels, SerialMatchesPooled) {
    std::mt19937 g(5);
    ThreadPool pool(2);
    auto W = make_linear(Linear::Format::FP4, 96, 256, g);
    std::vector<float> x(3 * 256), a(3 * 96), b(3 * 96);
    std::normal_distribution<float> nd;
    for (auto& v : x) v = nd(g);
    matmul(pool, W.L, x.data(), 256, a.data(), 96, 3);
    matmul_serial(W.L, x.data(), 256, b.data(), 96, 3);
    EXPECT_EQ(a, b);
}

TEST(ThreadPoolTest, ManySmallCallsCoverEveryIndexOnce) {
    ThreadPool pool(2);
    std::vector<int> hits(1000);
    for (int rep = 0; rep < 2000; ++rep) {
        const int64_t n = 1 + rep % 7;
        pool.parallel_for(n, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
        });
    }
    int total = 0;
    for (int h : hits) total += h;
    int want = 0;
    for (int rep = 0; rep < 2000; ++rep) want += 1 + rep % 7;
    EXPECT_EQ(total, want);
    EXPECT_THROW(pool.parallel_for(4, [](int64_t b, int64_t) { if (b > 0) throw std::runtime_error("x"); }),
                 std::runtime_error);
}
