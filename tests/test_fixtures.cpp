// The reference fixtures (made by Hugging Face transformers 5.17): full pass, cached chunks,
// hidden states and greedy generation must match.
#include <gtest/gtest.h>

#include <cmath>

#include "model/model.h"
#include "runtime/sampler.h"
#include "test_util.h"

using namespace dsv4;
using namespace dsv4::test;

struct FixtureCase {
    const char* dir;
    float tol;
};

class Fixture : public ::testing::TestWithParam<FixtureCase> {
protected:
    static std::unique_ptr<Model> load(const FixtureCase& fc) { return Model::load(data_path(fc.dir), 2); }
};

TEST_P(Fixture, LogitsFullPass) {
    auto fc = GetParam();
    auto model = load(fc);
    auto ref = SafetensorsFile::open(data_path(std::string(fc.dir) + "/reference.safetensors"));
    auto ids = tensor_ids(*ref, "input_ids");
    auto want = tensor_f32(*ref, "logits_full");
    auto st = model->new_sequence();
    std::vector<float> logits;
    model->forward(st, ids, logits);
    float err = max_abs_diff(logits, want);
    std::printf("[%s] full pass max |logits - logits_full| = %.3g\n", fc.dir, err);
    EXPECT_LT(err, fc.tol);
}

TEST_P(Fixture, LogitsIncrementalChunks) {
    auto fc = GetParam();
    auto model = load(fc);
    auto ref = SafetensorsFile::open(data_path(std::string(fc.dir) + "/reference.safetensors"));
    auto ids = tensor_ids(*ref, "input_ids");
    auto chunks = tensor_ids(*ref, "chunks");
    auto want = tensor_f32(*ref, "logits_incremental");
    const int64_t V = model->config().vocab_size;
    auto st = model->new_sequence();
    std::vector<float> all, part;
    size_t off = 0;
    for (int32_t c : chunks) {
        model->forward(st, std::span<const int32_t>(ids.data() + off, size_t(c)), part);
        ASSERT_EQ(part.size(), size_t(c) * size_t(V));
        all.insert(all.end(), part.begin(), part.end());
        off += size_t(c);
    }
    ASSERT_EQ(off, ids.size());
    float err = max_abs_diff(all, want);
    std::printf("[%s] %zu chunks: max |logits - logits_incremental| = %.3g\n", fc.dir, chunks.size(), err);
    EXPECT_LT(err, fc.tol);
}

TEST_P(Fixture, GreedyGeneration) {
    auto fc = GetParam();
    auto model = load(fc);
    auto ref = SafetensorsFile::open(data_path(std::string(fc.dir) + "/reference.safetensors"));
    auto prompt = tensor_ids(*ref, "greedy_prompt");
    auto want = tensor_ids(*ref, "greedy_output");
    auto st = model->new_sequence();
    std::vector<float> logits;
    ForwardOptions last;
    last.all_logits = false;
    model->forward(st, prompt, logits, last);
    std::vector<int32_t> got;
    while (got.size() < want.size()) {
        int32_t next = argmax(logits);
        got.push_back(next);
        model->forward(st, std::span<const int32_t>(&next, 1), logits, last);
    }
    EXPECT_EQ(got, want);
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, Fixture,
                         ::testing::Values(FixtureCase{"dsv4-tiny-a", 1e-4f}, FixtureCase{"dsv4-small-fp8", 2e-4f}),
                         [](const auto& info) {
                             std::string s = info.param.dir;
                             for (auto& ch : s)
                                 if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return s;
                         });

TEST(FixtureTinyA, HiddenStatesEveryLayer) {
    auto model = Model::load(data_path("dsv4-tiny-a"), 2);
    auto ref = SafetensorsFile::open(data_path("dsv4-tiny-a/reference.safetensors"));
    auto ids = tensor_ids(*ref, "input_ids");
    const int L = int(model->config().num_hidden_layers);
    std::vector<std::vector<float>> got(size_t(L + 2));
    ForwardOptions opt;
    opt.on_hidden = [&](int i, const float* data, int64_t T) {
        int64_t per = i == L + 1 ? model->config().hidden_size : model->config().hc_mult * model->config().hidden_size;
        got[size_t(i)].assign(data, data + T * per);
    };
    auto st = model->new_sequence();
    std::vector<float> logits;
    model->forward(st, ids, logits, opt);
    // transformers' convention: hidden_0 = embeddings as streams, hidden_i = streams after layer i-1
    // for i < L, and hidden_L = the hc head + final norm output (it replaces the last layer's streams).
    for (int i = 0; i <= L; ++i) {
        auto want = tensor_f32(*ref, "hidden_" + std::to_string(i));
        float err = max_abs_diff(got[size_t(i == L ? L + 1 : i)], want);
        EXPECT_LT(err, 1e-4f) << "hidden_" << i;
        std::printf("hidden_%d max abs diff %.3g\n", i, err);
    }
}

// A batched pass over several sequences (prefill chunks and decode steps mixed) gives each
// sequence the logits it gets alone.
TEST(Batch, ForwardBatchEqualsSeparateForwards) {
    auto model = Model::load(data_path("dsv4-tiny-a"), 2);
    auto ref = SafetensorsFile::open(data_path("dsv4-tiny-a/reference.safetensors"));
    auto ids = tensor_ids(*ref, "input_ids");
    auto want = tensor_f32(*ref, "logits_full");
    const int64_t V = model->config().vocab_size;
    // Three sequences over the same ids, at different offsets in their schedules.
    std::vector<SequenceState> st;
    for (int i = 0; i < 3; ++i) st.push_back(model->new_sequence());
    std::vector<size_t> done = {0, 0, 0};
    std::vector<std::vector<int64_t>> sched = {{37, 1, 1, 1, 20, 40}, {1, 1, 1, 1, 50, 46}, {64, 36}};
    std::vector<size_t> step = {0, 0, 0};
    std::vector<std::vector<float>> out(3), got(3);
    while (done[0] < ids.size() || done[1] < ids.size() || done[2] < ids.size()) {
        std::vector<BatchItem> items;
        std::vector<size_t> which;
        for (size_t i = 0; i < 3; ++i) {
            if (done[i] >= ids.size()) continue;
            size_t n = size_t(sched[i][step[i]++]);
            items.push_back({&st[i], std::span<const int32_t>(ids.data() + done[i], n), &out[i], true});
            which.push_back(i);
            done[i] += n;
        }
        model->forward_batch(items);
        for (size_t k = 0; k < which.size(); ++k) got[which[k]].insert(got[which[k]].end(), out[which[k]].begin(), out[which[k]].end());
    }
    for (size_t i = 0; i < 3; ++i) {
        ASSERT_EQ(got[i].size(), ids.size() * size_t(V));
        EXPECT_LT(max_abs_diff(got[i], want), 1e-4f) << "sequence " << i;
    }
}

// The weights read into (huge-page) memory or mapped from the file: the same bytes, so the same
// logits bit for bit; DSV4_LOAD picks the mode and a bad value is refused by name.
TEST(Residency, MappedAndResidentGiveIdenticalLogits) {
    auto ref = SafetensorsFile::open(data_path("dsv4-small-fp8/reference.safetensors"));
    auto ids = tensor_ids(*ref, "input_ids");
    std::vector<float> logits[2];
    const char* modes[2] = {"mmap", "read"};
    const Residency want[2] = {Residency::Mapped, Residency::Resident};
    for (int i = 0; i < 2; ++i) {
        setenv("DSV4_LOAD", modes[i], 1);
        auto model = Model::load(data_path("dsv4-small-fp8"), 2);
        EXPECT_EQ(model->checkpoint().residency(), want[i]) << modes[i];
        auto st = model->new_sequence();
        model->forward(st, ids, logits[i]);
    }
    EXPECT_EQ(logits[0], logits[1]);
    EXPECT_GT(logits[0].size(), 0u);
    setenv("DSV4_LOAD", "fast", 1);
    try {
        Model::load(data_path("dsv4-small-fp8"), 2);
        ADD_FAILURE() << "DSV4_LOAD=fast was accepted";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("DSV4_LOAD='fast'"), std::string::npos) << e.what();
    }
    unsetenv("DSV4_LOAD");
}
