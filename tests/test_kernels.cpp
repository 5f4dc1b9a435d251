// Every SIMD matmul path this CPU has against the portable scalar path, on random shapes and
// formats: odd sizes, partial 128-blocks and 32-blocks, row sub-ranges, T = 1 and T > 1.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "kernels/cpu/kernel_iface.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/random_linear.h"
#include "kernels/cpu/rounding.h"

using namespace dsv4;


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
        {F::BF16, 23, 40, false},  // AVX2 gemv: two [even, odd] pair groups, then 8 columns in order
        {F::FP8, 21, 96, true},    // AVX2 gemv: 32-column FP8 chunks, one partial scale block
    };
    std::vector<Isa> isas;
    for (Isa i : {Isa::Avx2, Isa::Avx512})
        if (isa_supported(i)) isas.push_back(i);
    if (isas.empty()) GTEST_SKIP() << "no SIMD path on this CPU";
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (const auto& c : cases) {
        auto W = random_linear(c.f, c.out, c.in, g(), c.f32_scale);
        // dense copy for the error bound sum |w| |x|
        std::vector<float> dense(size_t(c.out * c.in));
        for (int64_t o = 0; o < c.out; ++o) dequant_row(W.L, o, dense.data() + o * c.in);
        for (int64_t T : {1, 2, 5, 9, 17, 40, 67}) {
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
    auto W = random_linear(Linear::Format::FP4, 96, 256, g());
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

// Every index exactly once, in ranges of at least the grain (but one ending at n), for pools of
// 1-4 threads and sizes around the segment and grain boundaries; a range that stalls does not
// stop the others from being taken.
TEST(ThreadPoolTest, RangesCoverOnceAndRespectTheGrain) {
    for (int threads : {1, 2, 3, 4}) {
        ThreadPool pool(threads);
        for (int64_t grain : {1, 3, 16}) {
            for (int64_t n : {1, 2, 5, 7, 16, 31, 32, 33, 100, 257, 1000, 4099}) {
                std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
                std::atomic<int> short_ranges{0}, bad{0};
                pool.parallel_for(
                    n,
                    [&](int64_t b, int64_t e) {
                        if (b < 0 || e > n || b >= e) bad++;
                        if (e - b < grain && e != n) short_ranges++;
                        if (b == 0 && n > 100) std::this_thread::sleep_for(std::chrono::milliseconds(2));
                        for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
                    },
                    grain);
                int wrong = 0;
                for (auto& h : hits) wrong += h.load() != 1;
                EXPECT_EQ(wrong, 0) << threads << " threads, n " << n << ", grain " << grain;
                EXPECT_EQ(short_ranges.load(), 0) << threads << " threads, n " << n << ", grain " << grain;
                EXPECT_EQ(bad.load(), 0);
            }
        }
    }
}

// MXFP4 rows whose E8M0 scales include 0 (2^-127) take the chunk kernels' general scale path;
// rows without take the fast one. Both must equal the scalar path.
TEST(Kernels, Fp4ZeroScaleBytesMatchScalar) {
    std::mt19937 g(3);
    ThreadPool pool(2);
    auto W = random_linear(Linear::Format::FP4, 70, 512 + 96, g());
    for (size_t i = 0; i < W.scale.size(); i += 7) W.scale[i] = 0;  // some tiles plain, some not
    for (size_t i = 40 * size_t(W.L.scale_cols); i < W.scale.size(); ++i) W.scale[i] = uint8_t(127 + i % 3);
    std::normal_distribution<float> nd;
    for (int64_t T : {1, 3}) {
        std::vector<float> x(size_t(T * W.L.in)), ref(size_t(T * 70)), y(size_t(T * 70));
        for (auto& v : x) v = nd(g);
        matmul(pool, W.L, x.data(), W.L.in, ref.data(), 70, T, 0, 70, Isa::Scalar);
        for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
            if (!isa_supported(isa)) continue;
            matmul(pool, W.L, x.data(), W.L.in, y.data(), 70, T, 0, 70, isa);
            for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref[i], 1e-4f * (1 + std::fabs(ref[i]))) << isa_name(isa) << " " << i;
        }
    }
}

// The FP8 gemv reads x times 2^K (K = 120 unless some |x| >= 2^7; 0 with an Inf or NaN):
// large, tiny and non-finite activations must give what the scalar path gives.
TEST(Kernels, Fp8GemvExtremeActivationsMatchScalar) {
    std::mt19937 g(21);
    ThreadPool pool(2);
    std::normal_distribution<float> nd;
    for (bool f32_scale : {false, true}) {
        auto W = random_linear(Linear::Format::FP8, 37, 512, g(), f32_scale);
        std::vector<float> dense(size_t(37 * 512));
        for (int64_t o = 0; o < 37; ++o) dequant_row(W.L, o, dense.data() + o * 512);
        // y of every SIMD path this CPU has for x, beside the scalar path's
        auto each_simd = [&](const std::vector<float>& x, auto&& check) {
            std::vector<float> ref(37), y(37);
            matmul(pool, W.L, x.data(), 512, ref.data(), 37, 1, 0, 37, Isa::Scalar);
            for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
                if (!isa_supported(isa)) continue;
                matmul(pool, W.L, x.data(), 512, y.data(), 37, 1, 0, 37, isa);
                for (int64_t o = 0; o < 37; ++o) check(isa, o, y[size_t(o)], ref[size_t(o)]);
            }
        };
        for (float mag : {1.0f, 0x1p7f, 0x1p40f, 0x1p90f, 0x1p-60f}) {
            std::vector<float> x(512);
            for (auto& v : x) v = nd(g) * mag;
            each_simd(x, [&](Isa isa, int64_t o, float a, float b) {
                double bound = 0;
                for (int64_t i = 0; i < 512; ++i) bound += std::fabs(double(dense[size_t(o * 512 + i)]) * x[size_t(i)]);
                ASSERT_TRUE(std::isfinite(a)) << isa_name(isa) << " |x| ~ " << mag << " row " << o;
                ASSERT_NEAR(a, b, 1e-6 * bound) << isa_name(isa) << " |x| ~ " << mag << " row " << o;
            });
        }
        for (float bad : {INFINITY, -INFINITY, NAN}) {
            std::vector<float> x(512);
            for (auto& v : x) v = nd(g);
            x[300] = bad;
            each_simd(x, [&](Isa isa, int64_t o, float a, float b) {
                ASSERT_EQ(std::isnan(a), std::isnan(b)) << isa_name(isa) << " " << bad << " row " << o;
                if (!std::isnan(b)) {
                    ASSERT_EQ(a, b) << isa_name(isa) << " " << bad << " row " << o;  // the same Inf
                }
            });
        }
    }
}

// Activations made of bf16 values (official numerics' QDQ8 inputs) take the AVX512_BF16 dot
// products where the CPU has them: FP8 rows with and without E4M3 codes of exponent 0 (those
// chunks take FMAs), partial scale blocks, non-power-of-two scales; MXFP4 with zero scale bytes.
TEST(Kernels, Bf16DotsMatchScalarOnBf16Activations) {
    std::mt19937 g(17);
    ThreadPool pool(2);
    using F = Linear::Format;
    struct Case { F f; int64_t out, in; bool f32_scale; };
    const Case cases[] = {{F::FP8, 37, 512, false}, {F::FP8, 70, 192, true}, {F::FP8, 9, 64, false},
                          {F::FP4, 45, 384, false}, {F::FP4, 33, 1024, true}, {F::FP4, 5, 128, false}};
    const bool has_bf16 = isa_supported(Isa::Avx512) && __builtin_cpu_supports("avx512bf16");
    std::normal_distribution<float> nd;
    for (const auto& c : cases) {
        auto W = random_linear(c.f, c.out, c.in, g(), c.f32_scale);
        if (c.f == F::FP8) {  // most rows without exponent-0 codes; every third row as drawn (~1/16 of them)
            for (int64_t o = 0; o < c.out; ++o) {
                if (o % 3 != 0) {
                    for (int64_t i = 0; i < c.in; ++i) {
                        uint8_t& b = W.data[size_t(o * W.L.row_bytes + i)];
                        if ((b & 0x78) == 0 && !(o == 1 && i == c.in / 2)) b |= 0x08;  // row 1: one left
                    }
                } else if (o == 3) {  // only zeros and subnormals
                    for (int64_t i = 0; i < c.in; ++i) W.data[size_t(o * W.L.row_bytes + i)] &= 0x87;
                }
            }
        }
        if (c.f == F::FP4 && !c.f32_scale)
            for (size_t i = 0; i < W.scale.size(); i += 5) W.scale[i] = 0;
        std::vector<float> dense(size_t(c.out * c.in));
        for (int64_t o = 0; o < c.out; ++o) dequant_row(W.L, o, dense.data() + o * c.in);
        for (int variant = 0; variant < 3; ++variant) {
            std::vector<float> x(size_t(c.in));
            for (auto& v : x) v = nd(g);
            if (variant == 0) rnd::qdq8(x.data(), c.in, 128);  // as official numerics make it
            if (variant == 1) {  // bf16 values over a wide range, zeros among them
                for (size_t i = 0; i < x.size(); ++i) x[i] = i % 11 == 0 ? 0.0f : rnd::bf16(x[i] * std::ldexp(1.0f, int(i % 40) - 20));
            }
            if (variant == 2) x[3] = std::nextafter(x[3], 10.0f);  // one value off bf16: the FMA path
#if defined(__x86_64__)
            if (has_bf16) {  // the kernel set takes the bf16 form exactly when x allows it
                std::vector<float> buf(x.size());
                const kern::XForm xf = kern::kernels_avx512().reorder_x(
                    kern::Fmt(uint8_t(c.f)), x.data(), c.in, 1, c.in, W.L.block_in, buf.data());
                EXPECT_EQ(xf.bf16, variant < 2) << format_name(c.f) << " variant " << variant;
            }
#endif
            std::vector<float> ref(size_t(c.out)), y(size_t(c.out));
            matmul(pool, W.L, x.data(), c.in, ref.data(), c.out, 1, 0, c.out, Isa::Scalar);
            for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
                if (!isa_supported(isa)) continue;
                matmul(pool, W.L, x.data(), c.in, y.data(), c.out, 1, 0, c.out, isa);
                for (int64_t o = 0; o < c.out; ++o) {
                    double bound = 0;
                    for (int64_t i = 0; i < c.in; ++i) bound += std::fabs(double(dense[size_t(o * c.in + i)]) * x[size_t(i)]);
                    ASSERT_NEAR(y[size_t(o)], ref[size_t(o)], 1e-6 * bound + 1e-30)
                        << isa_name(isa) << " " << format_name(c.f) << " " << c.out << "x" << c.in << " variant "
                        << variant << " row " << o;
                }
            }
        }
    }
}

// The attention helpers of every SIMD path against the scalar one: partial tiles of keys and
// heads, d with and without a vector tail, rows scattered in memory.
TEST(Kernels, AttentionDotsAndAxpysMatchScalar) {
    std::mt19937 g(9);
    std::normal_distribution<float> nd;
    for (int64_t d : {512, 37}) {
        for (int64_t H : {16, 5}) {
            for (int64_t n : {1, 7, 16, 45}) {
                std::vector<float> pool_rows(size_t((2 * n + 1) * (d + 3)));
                for (auto& v : pool_rows) v = nd(g);
                std::vector<const float*> rows;
                for (int64_t j = 0; j < n; ++j) rows.push_back(pool_rows.data() + ((j * 7) % (2 * n + 1)) * (d + 3));
                const int64_t ldq = d + 1, lds = n + 2;
                std::vector<float> q(size_t(H * ldq)), p(size_t(H * lds));
                for (auto& v : q) v = nd(g);
                for (auto& v : p) v = nd(g);
                std::vector<float> s_ref(size_t(H * lds), -7.0f), o_ref(size_t(H * ldq), 0.5f);
                attn_dots(q.data(), ldq, H, rows.data(), n, d, s_ref.data(), lds, Isa::Scalar);
                attn_axpys(p.data(), lds, H, rows.data(), n, d, o_ref.data(), ldq, Isa::Scalar);
                for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
                    if (!isa_supported(isa)) continue;
                    std::vector<float> s(size_t(H * lds), -7.0f), o(size_t(H * ldq), 0.5f);
                    attn_dots(q.data(), ldq, H, rows.data(), n, d, s.data(), lds, isa);
                    attn_axpys(p.data(), lds, H, rows.data(), n, d, o.data(), ldq, isa);
                    for (size_t i = 0; i < s.size(); ++i)
                        ASSERT_NEAR(s[i], s_ref[i], 1e-4f * (1 + std::fabs(s_ref[i]))) << isa_name(isa) << " dots " << i;
                    for (size_t i = 0; i < o.size(); ++i)
                        ASSERT_NEAR(o[i], o_ref[i], 1e-4f * (1 + std::fabs(o_ref[i]))) << isa_name(isa) << " axpys " << i;
                }
            }
        }
    }
}
