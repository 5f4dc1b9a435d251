// The shipped default model (models/dsv4-mini): it loads, generates from an English prompt, and
// predicts held-out English far better than a unigram model.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/model.h"
#include "runtime/perplexity.h"
#include "runtime/sampler.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace {

const std::string kModelDir = std::string(DSV4_TEST_DATA) + "/../../models/dsv4-mini";

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

TEST(DefaultModel, GreedyGenerationFromEnglishPrompt) {
    auto tok = dsv4::Tokenizer::from_file(kModelDir + "/tokenizer.json");
    auto model = dsv4::Model::load(kModelDir, 1);
    auto ids = tok.encode("The Congress of the United States");
    ASSERT_FALSE(ids.empty());
    auto st = model->new_sequence();
    std::vector<float> logits;
    dsv4::ForwardOptions last;
    last.all_logits = false;
    model->forward(st, ids, logits, last);
    std::vector<int32_t> out;
    for (int i = 0; i < 16; ++i) {
        int32_t next = dsv4::argmax(logits);
        ASSERT_GE(next, 0);
        ASSERT_LT(next, int32_t(model->config().vocab_size));
        out.push_back(next);
        model->forward(st, std::span<const int32_t>(&next, 1), logits, last);
    }
    EXPECT_EQ(out.size(), 16u);
    EXPECT_FALSE(tok.decode(out).empty());
}

TEST(DefaultModel, HeldOutPerplexityFarBelowUnigram) {
    auto tok = dsv4::Tokenizer::from_file(kModelDir + "/tokenizer.json");
    auto model = dsv4::Model::load(kModelDir, 1);
    auto ids = tok.encode(read_file(dsv4::test::data_path("dsv4-mini-heldout-excerpt.txt")));
    ASSERT_GT(ids.size(), 300u);
    // the add-one training-set unigram, as tools/train/train.py and `dsv4 perplexity` use it
    auto counts = nlohmann::json::parse(read_file(kModelDir + "/unigram_counts.json"))
                      .at("counts")
                      .get<std::vector<int64_t>>();
    auto r = dsv4::perplexity(*model, ids, 256, counts);
    EXPECT_EQ(r.predicted, int64_t(ids.size()) - 1);
    EXPECT_LT(r.perplexity(), 0.5 * r.unigram_perplexity())
        << "perplexity " << r.perplexity() << " vs unigram " << r.unigram_perplexity();
}

}  // namespace

namespace {

TEST(DefaultModel, RunCommandUsesTheDefaultModel) {
    // no --model: the binary falls back to models/dsv4-mini of its source tree
    auto r = dsv4::test::run_dsv4("run --greedy --max-new-tokens 8 --threads 1 'The President'");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out.rfind("The President", 0), 0u) << r.out;
    EXPECT_GT(r.out.size(), std::string("The President\n").size()) << r.out;
    auto bad = dsv4::test::run_dsv4("run --greedy --top-p 0.5 'x'");
    EXPECT_NE(bad.status, 0);
}

TEST(DefaultModel, PerplexityCommandPrintsModelAndBaseline) {
    auto r = dsv4::test::run_dsv4("perplexity --threads 1 --text '" +
                                  dsv4::test::data_path("dsv4-mini-heldout-excerpt.txt") + "'");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("perplexity "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("unigram "), std::string::npos) << r.out;
}

}  // namespace
