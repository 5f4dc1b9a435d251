// Official-numerics roundings on hand-worked values (dsv4-model.md "Official numerics").
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "io/dtype.h"
#include "kernels/cpu/rounding.h"

using namespace dsv4;

static float from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// The block QDQ by its definition: per block a = max(floor, |x|), s = pow2_scale(a, M), then
// round(clamp(x / s, -M, M)) * s through the format's encoder.
template <class Round>
static std::vector<float> qdq_definition(const std::vector<float>& x, int64_t block, float floor, float M, Round round) {
    const int64_t n = int64_t(x.size());
    std::vector<float> want(x.size());
    for (int64_t b = 0; b < n; b += block) {
        const int64_t e = std::min(n, b + block);
        float a = floor;
        for (int64_t i = b; i < e; ++i) a = std::max(a, std::fabs(x[size_t(i)]));
        const float s = rnd::pow2_scale(a, M);
        for (int64_t i = b; i < e; ++i) want[size_t(i)] = round(std::clamp(x[size_t(i)] / s, -M, M)) * s;
    }
    return want;
}

// got equals want bit for bit (a NaN for a NaN); x is the input, for the message.
static ::testing::AssertionResult same_bits(const std::vector<float>& x, const std::vector<float>& want,
                                            const std::vector<float>& got) {
    for (size_t i = 0; i < want.size(); ++i) {
        uint32_t a, b;
        std::memcpy(&a, &want[i], 4);
        std::memcpy(&b, &got[i], 4);
        if (std::isnan(want[i]) ? !std::isnan(got[i]) : a != b)
            return ::testing::AssertionFailure() << "i " << i << " x " << x[i] << " want " << want[i] << " got " << got[i];
    }
    return ::testing::AssertionSuccess();
}

TEST(Rounding, Bf16NearestEven) {
    EXPECT_EQ(rnd::bf16(1.0f), 1.0f);
    // 1 + 2^-8 lies exactly between 1 and 1 + 2^-7: ties to the even mantissa (1.0).
    EXPECT_EQ(rnd::bf16(1.0f + std::ldexp(1.0f, -8)), 1.0f);
    // 1 + 3*2^-8 lies between 1+2^-7 (odd) and 1+2^-6 (even): goes up.
    EXPECT_EQ(rnd::bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -6));
    EXPECT_EQ(rnd::bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 1.0f + std::ldexp(1.0f, -7));
    EXPECT_EQ(rnd::bf16(-2.5f), -2.5f);
    EXPECT_EQ(rnd::bf16(from_bits(0x00012345u)), from_bits(0x00010000u));  // subnormal
    EXPECT_TRUE(std::isnan(rnd::bf16(NAN)));
}

TEST(Rounding, E4m3NearestEvenWithSaturation) {
    EXPECT_EQ(rnd::e4m3(1.0f), 1.0f);
    EXPECT_EQ(rnd::e4m3(1.0625f), 1.0f);    // tie between 1 and 1.125 -> even (1.0)
    EXPECT_EQ(rnd::e4m3(1.1875f), 1.25f);   // tie between 1.125 (odd) and 1.25 -> 1.25
    EXPECT_EQ(rnd::e4m3(1.07f), 1.125f);
    EXPECT_EQ(rnd::e4m3(448.0f), 448.0f);
    EXPECT_EQ(rnd::e4m3(460.0f), 448.0f);   // saturates
    EXPECT_EQ(rnd::e4m3(-1000.0f), -448.0f);
    EXPECT_EQ(rnd::e4m3(17.0f), 16.0f);     // spacing 2 in [16, 32): 17 is a tie -> 16 (even)
    EXPECT_EQ(rnd::e4m3(19.0f), 20.0f);     // tie between 18 (odd) and 20 -> 20
    // subnormals: spacing 2^-9
    EXPECT_EQ(rnd::e4m3(std::ldexp(1.0f, -9)), std::ldexp(1.0f, -9));
    EXPECT_EQ(rnd::e4m3(std::ldexp(1.0f, -10)), 0.0f);  // half the smallest subnormal: tie -> 0
    EXPECT_EQ(rnd::e4m3(std::ldexp(3.0f, -10)), std::ldexp(2.0f, -9));  // 1.5 ulp: tie -> even (2)
    EXPECT_EQ(rnd::e4m3(0.0f), 0.0f);
}

TEST(Rounding, E2m1NearestEven) {
    EXPECT_EQ(rnd::e2m1(0.25f), 0.0f);   // tie 0 / 0.5 -> 0
    EXPECT_EQ(rnd::e2m1(0.75f), 1.0f);   // tie 0.5 / 1 -> 1
    EXPECT_EQ(rnd::e2m1(1.25f), 1.0f);
    EXPECT_EQ(rnd::e2m1(1.75f), 2.0f);
    EXPECT_EQ(rnd::e2m1(2.5f), 2.0f);
    EXPECT_EQ(rnd::e2m1(3.5f), 4.0f);
    EXPECT_EQ(rnd::e2m1(5.0f), 4.0f);    // tie 4 / 6 -> 4
    EXPECT_EQ(rnd::e2m1(5.1f), 6.0f);
    EXPECT_EQ(rnd::e2m1(-2.9f), -3.0f);
    EXPECT_EQ(rnd::e2m1(9.0f), 6.0f);
}

TEST(Rounding, PowerOfTwoScaleFromBits) {
    // a = 448: t = 1 exactly -> s = 1. Just above: t has a mantissa -> s = 2.
    EXPECT_EQ(rnd::pow2_scale(448.0f, 448.0f), 1.0f);
    EXPECT_EQ(rnd::pow2_scale(std::nextafter(448.0f, 1000.0f), 448.0f), 2.0f);
    EXPECT_EQ(rnd::pow2_scale(6.0f, 6.0f), 1.0f);
    EXPECT_EQ(rnd::pow2_scale(12.0f, 6.0f), 2.0f);
    EXPECT_EQ(rnd::pow2_scale(7.0f, 6.0f), 2.0f);
    EXPECT_EQ(rnd::pow2_scale(1.0f, 448.0f), 1.0f / 256);  // t = 1/448 in (2^-9, 2^-8)
}

TEST(Rounding, Qdq8BlocksZerosAndPartialTail) {
    // Block of 4 with max 448*2 -> s = 2; a value 3.3 -> 3.3/2 = 1.65 -> e4m3 1.625 -> 3.25.
    std::vector<float> x = {896.0f, 3.3f, -1.0f, 0.0f, /* second block, partial: */ 0.001f, 0.002f};
    rnd::qdq8(x.data(), 6, 4);
    EXPECT_EQ(x[0], 896.0f);
    EXPECT_EQ(x[1], 3.25f);
    EXPECT_EQ(x[2], -1.0f);
    EXPECT_EQ(x[3], 0.0f);
    // Tail block has its own scale: a = 0.002 -> t = 0.002/448 -> s = 2^-17 (t in [2^-18, 2^-17)).
    const float s = std::ldexp(1.0f, -17);
    EXPECT_EQ(x[4], rnd::e4m3(0.001f / s) * s);
    EXPECT_EQ(x[5], rnd::e4m3(0.002f / s) * s);
    // All-zero block: a = 1e-4 floor, values stay 0.
    std::vector<float> z(8, 0.0f);
    rnd::qdq8(z.data(), 8, 8);
    for (float v : z) EXPECT_EQ(v, 0.0f);
}

TEST(Rounding, Qdq4Block) {
    std::vector<float> x(32, 0.0f);
    x[0] = 12.0f;  // s = 2
    x[1] = 5.0f;   // 2.5 -> 2 -> 4
    x[2] = -7.0f;  // -3.5 -> -4 -> -8
    x[3] = 0.4f;   // 0.2 -> 0
    rnd::qdq4(x.data(), 32, 32);
    EXPECT_EQ(x[0], 12.0f);
    EXPECT_EQ(x[1], 4.0f);
    EXPECT_EQ(x[2], -8.0f);
    EXPECT_EQ(x[3], 0.0f);
}

// The vectorizable QDQ8 equals the definition (x / s onto E4M3 through the encoder, times s) bit
// for bit on random blocks: wide magnitudes, exact E4M3 midpoints, subnormal-range values,
// signed zeros, infinities and NaN.
TEST(Rounding, Qdq8EqualsTheEncoderDefinition) {
    std::mt19937 g(17);
    std::normal_distribution<float> nd;
    std::uniform_int_distribution<int> ex(-40, 40), pick(0, 19), code(0, 126);
    for (int rep = 0; rep < 3000; ++rep) {
        const int64_t n = 1 + int64_t(g() % 300), block = rep % 3 == 0 ? 128 : rep % 3 == 1 ? 32 : 7;
        const int sc = ex(g);
        std::vector<float> x(static_cast<size_t>(n));
        for (auto& v : x) {
            switch (pick(g)) {
                case 0: v = 0.0f; break;
                case 1: v = -0.0f; break;
                case 2: {  // an exact midpoint between two E4M3 codes, scaled
                    const float lo = e4m3_to_f32(uint8_t(code(g))), hi = e4m3_to_f32(uint8_t(code(g) + 1));
                    v = std::ldexp(0.5f * (lo + hi), sc - 8);
                    break;
                }
                case 3: v = std::ldexp(nd(g), sc - 20); break;  // far below the block's max
                case 4: if (rep % 50 == 0) { v = rep % 100 == 0 ? INFINITY : NAN; break; } [[fallthrough]];
                default: v = std::ldexp(nd(g), sc);
            }
        }
        std::vector<float> got = x;
        rnd::qdq8(got.data(), n, block);
        ASSERT_TRUE(same_bits(x, qdq_definition(x, block, 1e-4f, 448.0f, rnd::e4m3), got)) << "rep " << rep;
    }
}

// The vectorizable QDQ4 equals its definition (x / s onto E2M1 through the encoder, times s) bit
// for bit: every E2M1 midpoint, values below the block's max, signed zeros, Inf and NaN.
TEST(Rounding, Qdq4EqualsTheEncoderDefinition) {
    std::mt19937 g(23);
    std::normal_distribution<float> nd;
    std::uniform_int_distribution<int> ex(-30, 30), pick(0, 19), code(0, 6);
    for (int rep = 0; rep < 3000; ++rep) {
        const int64_t n = 1 + int64_t(g() % 200), block = rep % 2 == 0 ? 32 : 5;
        const int sc = ex(g);
        std::vector<float> x(static_cast<size_t>(n));
        for (auto& v : x) {
            switch (pick(g)) {
                case 0: v = 0.0f; break;
                case 1: v = -0.0f; break;
                case 2: case 3: {  // an exact midpoint between two E2M1 codes, scaled, either sign
                    const int c = code(g);
                    const float m = 0.5f * (e2m1_to_f32(uint8_t(c)) + e2m1_to_f32(uint8_t(c + 1)));
                    v = std::ldexp(g() % 2 ? m : -m, sc - 2);
                    break;
                }
                case 4: if (rep % 50 == 0) { v = rep % 100 == 0 ? -INFINITY : NAN; break; } [[fallthrough]];
                default: v = std::ldexp(nd(g), sc);
            }
        }
        std::vector<float> got = x;
        rnd::qdq4(got.data(), n, block);
        ASSERT_TRUE(same_bits(x, qdq_definition(x, block, 6.0f * std::ldexp(1.0f, -126), 6.0f, rnd::e2m1), got))
            << "rep " << rep;
    }
}

// bf16_inplace (the vectorized loop) equals bf16() on every value of a spread of bit patterns:
// ties, carries into the exponent, the largest finite values (rounding to Inf), subnormals, NaN.
TEST(Rounding, Bf16InplaceEqualsBf16) {
    std::mt19937 g(29);
    std::vector<float> x;
    for (uint32_t hi : {0x0000u, 0x0001u, 0x3f80u, 0x3fffu, 0x7f7fu, 0x7f80u, 0x7fc0u, 0x8000u, 0xbf80u, 0xff7fu, 0xff80u})
        for (uint32_t lo : {0x0000u, 0x0001u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu}) x.push_back(from_bits(hi << 16 | lo));
    for (int i = 0; i < 5000; ++i) x.push_back(from_bits(uint32_t(g())));
    std::vector<float> got = x, want(x.size());
    rnd::bf16_inplace(got.data(), int64_t(got.size()));
    for (size_t i = 0; i < x.size(); ++i) want[i] = rnd::bf16(x[i]);
    EXPECT_TRUE(same_bits(x, want, got));
}
