// kernels/cpu/elementwise: the vectorized exp and SwiGLU against double-precision references, and
// the array loops (built per instruction set) against the scalar ew::exp bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/elementwise.h"

using namespace dsv4;

static uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

// Distance in units in the last place between two finite floats of the same sign.
static int64_t ulps(float a, float b) { return std::llabs(int64_t(bits(a)) - int64_t(bits(b))); }

TEST(Elementwise, ExpWithinTwoUlpOverTheNormalRange) {
    std::mt19937 g(3);
    std::uniform_real_distribution<float> wide(-87.3f, 88.7f), near(-2.0f, 2.0f);
    int64_t worst = 0;
    for (int i = 0; i < 200000; ++i) {
        const float x = i % 2 ? wide(g) : near(g);
        const float want = float(std::exp(double(x)));
        const float got = ew::exp(x);
        worst = std::max(worst, ulps(want, got));
        ASSERT_LE(ulps(want, got), 2) << "x " << x << " want " << want << " got " << got;
    }
    EXPECT_LE(worst, 2);
    EXPECT_EQ(ew::exp(0.0f), 1.0f);
    EXPECT_EQ(ew::exp(-0.0f), 1.0f);
}

TEST(Elementwise, ExpEdges) {
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_EQ(ew::exp(89.0f), inf);  // e^89 > FLT_MAX
    EXPECT_EQ(ew::exp(1e30f), inf);
    EXPECT_EQ(ew::exp(inf), inf);
    EXPECT_EQ(ew::exp(-inf), 0.0f);
    EXPECT_EQ(ew::exp(-1e30f), 0.0f);
    EXPECT_TRUE(std::isnan(ew::exp(std::nanf(""))));
    EXPECT_LT(std::fabs(ew::exp(88.5f) / float(std::exp(88.5)) - 1.0f), 1e-6f);  // 2^127 < e^88.5
    // Subnormal results: one rounding, so within one subnormal step of the true value.
    for (float x : {-88.0f, -90.0f, -95.0f, -100.0f, -103.0f}) {
        const double want = std::exp(double(x));
        EXPECT_LE(std::fabs(double(ew::exp(x)) - want), std::ldexp(1.0, -149)) << x;
    }
}

// exp_shifted and swiglu (AVX-512 / AVX2 / baseline builds, whichever this CPU runs) give the
// bits of the scalar formula, for every tail length.
TEST(Elementwise, ArrayLoopsEqualTheScalarFormula) {
    std::mt19937 g(5);
    std::normal_distribution<float> nd(0.0f, 6.0f);
    for (int64_t n : {1, 7, 15, 16, 17, 33, 100, 1024, 1031}) {
        std::vector<float> x(static_cast<size_t>(n)), u(static_cast<size_t>(n)), out(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) x[size_t(i)] = nd(g), u[size_t(i)] = nd(g);
        if (n > 3) x[0] = std::nanf(""), x[1] = 300.0f, x[2] = -300.0f;
        ew::exp_shifted(x.data(), 1.5f, out.data(), n);
        for (int64_t i = 0; i < n; ++i) {
            const float want = ew::exp(x[size_t(i)] - 1.5f);
            if (std::isnan(want)) ASSERT_TRUE(std::isnan(out[size_t(i)]));
            else ASSERT_EQ(bits(want), bits(out[size_t(i)])) << n << " " << i;
        }
        for (float L : {0.0f, 10.0f}) {
            std::vector<float> h = x;
            ew::swiglu(h.data(), u.data(), n, L);
            for (int64_t i = 0; i < n; ++i) {
                float v = x[size_t(i)], w = u[size_t(i)];
                if (L > 0) v = std::min(v, L), w = std::clamp(w, -L, L);
                const float want = v / (1.0f + ew::exp(-v)) * w;
                if (std::isnan(want)) ASSERT_TRUE(std::isnan(h[size_t(i)]));
                else ASSERT_EQ(bits(want), bits(h[size_t(i)])) << n << " " << i << " L " << L;
            }
        }
    }
}

// SwiGLU against the definition in double: silu(min(g, L)) * clamp(u, -L, L).
TEST(Elementwise, SwigluMatchesTheDefinition) {
    std::vector<float> g = {-200.0f, -20.0f, -1.0f, -0.0f, 0.5f, 3.0f, 9.99f, 12.0f, 50.0f};
    std::vector<float> u = {1.0f, 2.0f, -3.0f, 4.0f, 0.25f, -11.0f, 10.5f, 1.0f, -2.0f};
    std::vector<float> h = g;
    ew::swiglu(h.data(), u.data(), int64_t(g.size()), 10.0f);
    for (size_t i = 0; i < g.size(); ++i) {
        const double v = std::min(double(g[i]), 10.0), w = std::clamp(double(u[i]), -10.0, 10.0);
        const double want = v / (1.0 + std::exp(-v)) * w;
        EXPECT_NEAR(h[i], want, 1e-6 * std::fabs(want) + 1e-30) << i;
    }
    EXPECT_EQ(h[7], 10.0f / (1.0f + float(std::exp(-10.0))) * 1.0f);  // g above L is cut to L
}
