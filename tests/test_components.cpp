// Unit tests of the V4 blocks on hand-worked or independently computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <tuple>

#include "io/config.h"
#include "kernels/cpu/matmul.h"
#include "model/model.h"
#include "model/ops.h"
#include "runtime/sampler.h"

using namespace dsv4;

namespace {

Linear f32_linear(const std::vector<float>& w, int64_t out, int64_t in) {
    Linear L;
    L.format = Linear::Format::F32;
    L.out = out;
    L.in = in;
    L.data = reinterpret_cast<const uint8_t*>(w.data());
    L.row_bytes = 4 * in;
    return L;
}

std::vector<float> randn(size_t n, std::mt19937& g, float sd = 1.0f) {
    std::normal_distribution<float> d(0.0f, sd);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}

}  // namespace

TEST(Sinkhorn, GivesDoublyStochasticMatrix) {
    std::mt19937 g(7);
    std::uniform_real_distribution<float> u(0.01f, 3.0f);
    for (int n : {2, 4, 6}) {
        std::vector<float> C(size_t(n * n));
        for (auto& x : C) x = u(g);
        sinkhorn(C.data(), n, 20, 1e-6);
        for (int i = 0; i < n; ++i) {
            float rs = 0, cs = 0;
            for (int j = 0; j < n; ++j) rs += C[size_t(i * n + j)], cs += C[size_t(j * n + i)];
            EXPECT_NEAR(cs, 1.0f, 1e-5f) << "column " << i << " of " << n << "x" << n;
            EXPECT_NEAR(rs, 1.0f, 2e-3f) << "row " << i << " of " << n << "x" << n;
        }
    }
}

TEST(Sinkhorn, OneIterationOnlyNormalisesColumns) {
    std::vector<float> C = {1, 3, 1, 1};  // columns sum to 2 and 4
    sinkhorn(C.data(), 2, 1, 0.0);
    EXPECT_FLOAT_EQ(C[0], 0.5f);
    EXPECT_FLOAT_EQ(C[1], 0.75f);
    EXPECT_FLOAT_EQ(C[2], 0.5f);
    EXPECT_FLOAT_EQ(C[3], 0.25f);
}

TEST(Rope, PlainFrequencies) {
    auto r = Rope::plain(10000.0, 8);
    ASSERT_EQ(r.inv_freq.size(), 4u);
    EXPECT_NEAR(r.inv_freq[0], 1.0f, 1e-7);
    EXPECT_NEAR(r.inv_freq[1], 0.1f, 1e-7);
    EXPECT_NEAR(r.inv_freq[2], 0.01f, 1e-8);
    EXPECT_NEAR(r.inv_freq[3], 0.001f, 1e-9);
}

TEST(Rope, YarnFrequenciesHandWorked) {
    // r = 8, theta = 160000, factor 16, original 64, beta 32/1:
    // corr(32) = 8 ln(64/(64 pi)) / (2 ln 160000) = -0.38 -> lo = 0; corr(1) = 0.775 -> hi = 1.
    // ramp = (0, 1, 1, 1): pair 0 keeps 1/theta^0 = 1, the others are divided by 16.
    YarnParams y;
    y.enabled = true;
    y.factor = 16;
    y.original_max_position_embeddings = 64;
    auto r = Rope::yarn(160000.0, 8, y);
    ASSERT_EQ(r.inv_freq.size(), 4u);
    EXPECT_NEAR(r.inv_freq[0], 1.0f, 1e-7);
    EXPECT_NEAR(r.inv_freq[1], 0.05f / 16, 1e-9);     // 160000^-1/4 = 1/20
    EXPECT_NEAR(r.inv_freq[2], 0.0025f / 16, 1e-10);  // 160000^-1/2 = 1/400
    EXPECT_NEAR(r.inv_freq[3], 1.0f / 8000 / 16, 1e-11);
}

TEST(Rope, RotatesLastDimsInterleavedAndInverts) {
    auto r = Rope::plain(10000.0, 4);  // freqs 1, 0.01
    std::vector<float> x = {5, 6, 1, 0, 0, 1};  // first 2 dims untouched
    r.apply(x.data(), 6, 2);
    EXPECT_FLOAT_EQ(x[0], 5);
    EXPECT_FLOAT_EQ(x[1], 6);
    EXPECT_NEAR(x[2], std::cos(2.0f), 1e-6);
    EXPECT_NEAR(x[3], std::sin(2.0f), 1e-6);
    EXPECT_NEAR(x[4], -std::sin(0.02f), 1e-6);
    EXPECT_NEAR(x[5], std::cos(0.02f), 1e-6);
    r.apply(x.data(), 6, 2, /*inverse=*/true);
    EXPECT_NEAR(x[2], 1, 1e-6);
    EXPECT_NEAR(x[3], 0, 1e-6);
    EXPECT_NEAR(x[4], 0, 1e-6);
    EXPECT_NEAR(x[5], 1, 1e-6);
}

TEST(TopK, TiesGoToTheLowerIndex) {
    std::vector<float> s = {1, 3, 3, 2};
    EXPECT_EQ(topk_indices(s.data(), 4, 2), (std::vector<int32_t>{1, 2}));
    EXPECT_EQ(topk_indices(s.data(), 4, 1), (std::vector<int32_t>{1}));
    std::vector<float> t = {5, 5, 5};
    EXPECT_EQ(topk_indices(t.data(), 3, 2), (std::vector<int32_t>{0, 1}));
    EXPECT_EQ(topk_indices(t.data(), 3, 9), (std::vector<int32_t>{0, 1, 2}));  // fewer than k: all
    EXPECT_EQ(argmax(std::vector<float>{2, 7, 7, 1}), 1);
}

// A compressor on random weights: entries follow the formula of dsv4-model.md, and feeding the
// tokens in any chunking gives the same entries as one call.
class CompressorTest : public ::testing::TestWithParam<int> {};

TEST_P(CompressorTest, WindowsOverlapAndChunkInvariance) {
    const int coff = GetParam();  // 2: CSA, 1: HCA
    const int64_t D = 8, dim = 4, m = 3, T = 20;
    std::mt19937 g(11 + coff);
    auto wkv = randn(size_t(coff * dim * D), g), wgate = randn(size_t(coff * dim * D), g);
    CompressorWeights w;
    w.ratio = m;
    w.dim = dim;
    w.coff = coff;
    w.wkv = f32_linear(wkv, coff * dim, D);
    w.wgate = f32_linear(wgate, coff * dim, D);
    w.ape = randn(size_t(m * coff * dim), g);
    w.norm = randn(size_t(dim), g);
    ModelConfig c;
    c.rms_norm_eps = 1e-6;
    Rope rope = Rope::plain(10000.0, 2);
    ThreadPool pool(2);
    auto x = randn(size_t(T * D), g);

    CompressorState full;
    compressor_forward(pool, c, w, rope, x.data(), T, 0, full);
    ASSERT_EQ(full.n_entries, T / m);
    EXPECT_EQ(full.buffered, T % m);

    // Direct evaluation of the formula for every entry.
    std::vector<float> kv(size_t(T * coff * dim)), gate(size_t(T * coff * dim));
    for (int64_t t = 0; t < T; ++t)
        for (int64_t o = 0; o < coff * dim; ++o) {
            double a = 0, b = 0;
            for (int64_t i = 0; i < D; ++i) a += wkv[size_t(o * D + i)] * x[size_t(t * D + i)], b += wgate[size_t(o * D + i)] * x[size_t(t * D + i)];
            kv[size_t(t * coff * dim + o)] = float(a);
            gate[size_t(t * coff * dim + o)] = float(b) + w.ape[size_t((t % m) * coff * dim + o)];
        }
    for (int64_t e = 0; e < full.n_entries; ++e) {
        std::vector<float> entry(static_cast<size_t>(dim));
        for (int64_t ch = 0; ch < dim; ++ch) {
            std::vector<std::pair<float, float>> slots;  // (gate, kv)
            if (coff == 2 && e > 0)  // Ca half of the previous window
                for (int64_t j = 0; j < m; ++j) {
                    int64_t t = (e - 1) * m + j;
                    slots.push_back({gate[size_t(t * 2 * dim + ch)], kv[size_t(t * 2 * dim + ch)]});
                }
            for (int64_t j = 0; j < m; ++j) {
                int64_t t = e * m + j, off = coff == 2 ? dim : 0;
                slots.push_back({gate[size_t(t * coff * dim + off + ch)], kv[size_t(t * coff * dim + off + ch)]});
            }
            double mx = -1e30, s = 0, acc = 0;
            for (auto& [gv, _] : slots) mx = std::max(mx, double(gv));
            for (auto& [gv, kvv] : slots) s += std::exp(gv - mx), acc += std::exp(gv - mx) * kvv;
            entry[size_t(ch)] = float(acc / s);
        }
        ops::rms_norm(entry.data(), w.norm.data(), entry.data(), dim, 1e-6);
        rope.apply(entry.data(), dim, e * m);
        for (int64_t ch = 0; ch < dim; ++ch)
            EXPECT_NEAR(full.entries[size_t(e * dim + ch)], entry[size_t(ch)], 1e-4) << "entry " << e << " ch " << ch;
    }

    for (auto chunks : {std::vector<int64_t>{1, 5, 2, 7, 5}, std::vector<int64_t>(20, 1), std::vector<int64_t>{3, 3, 14}}) {
        CompressorState inc;
        int64_t pos = 0;
        for (auto n : chunks) {
            compressor_forward(pool, c, w, rope, x.data() + pos * D, n, pos, inc);
            pos += n;
        }
        ASSERT_EQ(inc.n_entries, full.n_entries);
        for (size_t i = 0; i < full.entries.size(); ++i) EXPECT_NEAR(inc.entries[i], full.entries[i], 1e-5);
    }
}

INSTANTIATE_TEST_SUITE_P(CsaAndHca, CompressorTest, ::testing::Values(2, 1));

TEST(MoERouting, TopKUsesBiasOnlyForChoosingAndHashUsesTable) {
    const int64_t D = 2, E = 4;
    // gate rows pick out x[0] or x[1]; logits for x = (1, 0): (2, 1, 0, -1)
    std::vector<float> gw = {2, 0, 1, 0, 0, 0, -1, 0};
    MoEWeights w;
    w.gate = f32_linear(gw, E, D);
    w.bias = {0, 0, 5, 0};  // makes expert 2 win the choice despite the low score
    ModelConfig c;
    c.n_routed_experts = E;
    c.num_experts_per_tok = 2;
    c.routed_scaling_factor = 1.5;
    c.norm_topk_prob = true;
    ThreadPool pool(1);
    std::vector<float> x = {1, 0};
    std::vector<int32_t> tok = {3};
    std::vector<int32_t> ex;
    std::vector<float> wt;
    LayerSpec topk;
    moe_route(pool, c, topk, w, x.data(), tok.data(), 1, ex, wt);
    ASSERT_EQ(ex.size(), 2u);
    EXPECT_EQ((std::set<int32_t>{ex[0], ex[1]}), (std::set<int32_t>{0, 2}));
    auto s = [](float l) { return std::sqrt(std::log1p(std::exp(l))); };
    float s0 = s(2), s2 = s(0);
    for (int j = 0; j < 2; ++j) {
        float want = (ex[size_t(j)] == 0 ? s0 : s2) / (s0 + s2) * 1.5f;
        EXPECT_NEAR(wt[size_t(j)], want, 1e-6);
    }
    EXPECT_NEAR(wt[0] + wt[1], 1.5f, 1e-6);

    LayerSpec hash;
    hash.hash_moe = true;
    w.tid2eid = {0, 1, 1, 2, 2, 3, 3, 0};  // 4 tokens x 2
    moe_route(pool, c, hash, w, x.data(), tok.data(), 1, ex, wt);
    EXPECT_EQ(ex, (std::vector<int32_t>{3, 0}));
    float s3 = s(-1);
    EXPECT_NEAR(wt[0], s3 / (s3 + s0) * 1.5f, 1e-6);
    EXPECT_NEAR(wt[1], s0 / (s3 + s0) * 1.5f, 1e-6);
}

TEST(Dequant, Fp8AndFp4Codes) {
    EXPECT_EQ(e4m3_to_f32(0x00), 0.0f);
    EXPECT_EQ(e4m3_to_f32(0x38), 1.0f);      // exp 7, man 0
    EXPECT_EQ(e4m3_to_f32(0x7e), 448.0f);    // max
    EXPECT_EQ(e4m3_to_f32(0xb8), -1.0f);
    EXPECT_EQ(e4m3_to_f32(0x01), 1.0f / 512);  // smallest subnormal 2^-9
    EXPECT_TRUE(std::isnan(e4m3_to_f32(0x7f)));
    EXPECT_EQ(e8m0_to_f32(127), 1.0f);
    EXPECT_EQ(e8m0_to_f32(130), 8.0f);
    EXPECT_EQ(e8m0_to_f32(120), 1.0f / 128);
    EXPECT_EQ(e2m1_to_f32(0x7), 6.0f);
    EXPECT_EQ(e2m1_to_f32(0xB), -1.5f);

    // FP4 row: low nibble is the even column; one scale per 32 inputs.
    std::vector<uint8_t> w(32);  // 1 row, 64 inputs
    for (int i = 0; i < 32; ++i) w[size_t(i)] = uint8_t(0x2 | (0xA << 4));  // (1.0, -1.0)
    std::vector<uint8_t> sc = {128, 126};  // 2.0 for cols 0..31, 0.5 for 32..63
    Linear L;
    L.format = Linear::Format::FP4;
    L.out = 1;
    L.in = 64;
    L.data = w.data();
    L.row_bytes = 32;
    L.scale = sc.data();
    L.scale_cols = 2;
    L.block_in = 32;
    std::vector<float> row(64);
    dequant_row(L, 0, row.data());
    EXPECT_EQ(row[0], 2.0f);
    EXPECT_EQ(row[1], -2.0f);
    EXPECT_EQ(row[32], 0.5f);
    EXPECT_EQ(row[63], -0.5f);
}

TEST(Matmul, AllRowsAndRowRangesMatchDoubleReference) {
    std::mt19937 g(3);
    ThreadPool pool(2);
    for (auto [out, in, T] : {std::tuple<int64_t, int64_t, int64_t>{7, 33, 1}, {64, 100, 5}, {130, 17, 9}}) {
        auto w = randn(size_t(out * in), g), x = randn(size_t(T * in), g);
        auto L = f32_linear(w, out, in);
        std::vector<float> y(size_t(T * out));
        linear(pool, L, x.data(), y.data(), T);
        for (int64_t t = 0; t < T; ++t)
            for (int64_t o = 0; o < out; ++o) {
                double s = 0;
                for (int64_t i = 0; i < in; ++i) s += double(w[size_t(o * in + i)]) * x[size_t(t * in + i)];
                EXPECT_NEAR(y[size_t(t * out + o)], s, 1e-4);
            }
        // rows [2, out-1) written with a wider output stride
        std::vector<float> z(size_t(T * (out + 3)), -7.0f);
        matmul(pool, L, x.data(), in, z.data(), out + 3, T, 2, out - 1);
        for (int64_t t = 0; t < T; ++t)
            for (int64_t o = 2; o < out - 1; ++o) EXPECT_FLOAT_EQ(z[size_t(t * (out + 3) + o - 2)], y[size_t(t * out + o)]);
    }
}

TEST(Sampler, SeededSamplingIsReproducibleAndRespectsTopK) {
    std::vector<float> logits = {0.1f, 2.0f, 1.9f, -3.0f, 0.5f};
    SamplerParams p;
    p.greedy = false;
    p.temperature = 1.0;
    p.top_k = 2;
    p.seed = 42;
    Sampler a(p), b(p);
    std::set<int32_t> seen;
    for (int i = 0; i < 200; ++i) {
        int32_t x = a.sample(logits);
        EXPECT_EQ(x, b.sample(logits));
        seen.insert(x);
    }
    EXPECT_EQ(seen, (std::set<int32_t>{1, 2}));
    p.top_k = 0;
    p.top_p = 0.3;  // the top token alone holds more than 30%
    Sampler c(p);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(c.sample(logits), 1);
}
