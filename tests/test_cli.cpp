// The engine's CLI as users (and the hidden checks) call it.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "io/token_file.h"
#include "test_util.h"

using namespace dsv4;
using namespace dsv4::test;

namespace {
std::string write_ids(const std::string& path, const std::vector<int32_t>& ids, const char* sep) {
    std::ofstream f(path);
    for (size_t i = 0; i < ids.size(); ++i) f << (i ? sep : "") << ids[i];
    f << "\n";
    return path;
}
}  // namespace

TEST(Cli, LogitsWithChunksMatchesIncrementalReference) {
    auto ref = SafetensorsFile::open(data_path("dsv4-tiny-a/reference.safetensors"));
    auto ids = tensor_ids(*ref, "input_ids");
    auto chunks = tensor_ids(*ref, "chunks");
    auto tmp = temp_dir("cli-logits");
    write_ids(tmp + "/ids.txt", ids, ",\n");
    std::string chunk_arg;
    for (size_t i = 0; i < chunks.size(); ++i) {
        if (i) chunk_arg += ',';
        chunk_arg += std::to_string(chunks[i]);
    }
    auto r = run_dsv4("logits --model " + data_path("dsv4-tiny-a") + " --tokens " + tmp + "/ids.txt --chunks " + chunk_arg +
                      " --out " + tmp + "/out.safetensors");
    ASSERT_EQ(r.status, 0) << r.out;
    auto out = SafetensorsFile::open(tmp + "/out.safetensors");
    const auto& t = out->tensors().at("logits");
    EXPECT_EQ(t.shape, (std::vector<int64_t>{100, 512}));
    EXPECT_LT(max_abs_diff(tensor_f32(*out, "logits"), tensor_f32(*ref, "logits_incremental")), 1e-4f);

    r = run_dsv4("logits --model " + data_path("dsv4-tiny-a") + " --tokens " + tmp + "/ids.txt --out " + tmp + "/full.safetensors");
    ASSERT_EQ(r.status, 0) << r.out;
    auto full = SafetensorsFile::open(tmp + "/full.safetensors");
    EXPECT_LT(max_abs_diff(tensor_f32(*full, "logits"), tensor_f32(*ref, "logits_full")), 1e-4f);
}

TEST(Cli, GenerateGreedyPrintsReferenceIds) {
    for (const char* fixture : {"dsv4-tiny-a", "dsv4-small-fp8"}) {
        auto ref = SafetensorsFile::open(data_path(std::string(fixture) + "/reference.safetensors"));
        auto prompt = tensor_ids(*ref, "greedy_prompt");
        auto want = tensor_ids(*ref, "greedy_output");
        auto tmp = temp_dir(std::string("cli-gen-") + fixture);
        write_ids(tmp + "/p.txt", prompt, " ");
        auto r = run_dsv4("generate --model " + data_path(fixture) + " --tokens " + tmp + "/p.txt --max-new-tokens " +
                          std::to_string(want.size()) + " --greedy --ignore-eos --print-ids");
        ASSERT_EQ(r.status, 0) << r.out;
        EXPECT_EQ(parse_token_ids(r.out, "stdout"), want) << fixture;
    }
}

TEST(Cli, GenerateSamplingIsSeeded) {
    auto tmp = temp_dir("cli-sample");
    write_ids(tmp + "/p.txt", {5, 6, 7}, " ");
    auto cmd = "generate --model " + data_path("dsv4-tiny-a") + " --tokens " + tmp +
               "/p.txt --max-new-tokens 12 --temperature 0.8 --top-p 0.9 --top-k 50 --seed 7 --ignore-eos --print-ids";
    auto a = run_dsv4(cmd), b = run_dsv4(cmd);
    ASSERT_EQ(a.status, 0) << a.out;
    EXPECT_EQ(a.out, b.out);
    EXPECT_EQ(parse_token_ids(a.out, "stdout").size(), 12u);
}

TEST(Cli, InfoDescribesTheCheckpoint) {
    auto r = run_dsv4("info --model " + data_path("dsv4-small-fp8"));
    ASSERT_EQ(r.status, 0) << r.out;
    for (const char* s : {"4 layers, hidden 320, vocab 1024", "compressed_sparse_attention", "ratio 128",
                          "hash-routed MoE", "YaRN x16", "FP8 E4M3", "MXFP4", "parameters", "active per token", "memory"})
        EXPECT_NE(r.out.find(s), std::string::npos) << "missing '" << s << "' in:\n" << r.out;
}

// `dsv4 <command> --help` (or -h, anywhere after the command) prints that command's options and
// exits 0 without running it; the top-level help points there.
TEST(Cli, EveryCommandHasHelp) {
    const std::vector<std::pair<std::string, std::vector<std::string>>> commands = {
        {"run", {"--model", "--max-new-tokens", "--greedy"}},
        {"perplexity", {"--text", "--window"}},
        {"logits", {"--model", "--tokens", "--chunks", "--reference", "--numerics"}},
        {"generate", {"--model", "--tokens", "--max-new-tokens", "--top-k", "--ignore-eos"}},
        {"info", {"--model", "--context"}},
        {"quantize", {"--model", "--out", "--format", "--shard-mb"}},
        {"random-init", {"--config", "--out", "--format", "--seed"}},
        {"bench", {"--model", "--prompt", "--tokens", "--gen", "--threads", "--machine", "--kernels"}},
        {"tokenize", {"--tokenizer", "--text", "--input", "--out"}},
        {"detokenize", {"--tokenizer", "--text", "--input", "--out"}},
        {"chat-template", {"--request", "--ids", "--tokenizer"}},
        {"chat-parse", {"--request", "--completion", "--stream"}},
        {"serve", {"--model", "--port", "--api-key", "--max-batch", "--max-queue", "--prefill-chunk"}},
    };
    for (const auto& [cmd, opts] : commands) {
        for (const char* flag : {" --help", " -h", " --model x --help"}) {
            const std::string args = cmd + std::string(flag);
            const auto r = run_dsv4(args);
            ASSERT_EQ(r.status, 0) << args << ": " << r.out;
            EXPECT_EQ(r.out.rfind("usage: dsv4 " + cmd + " [options]", 0), 0u) << r.out;
            for (const auto& o : opts) EXPECT_NE(r.out.find("  " + o + " "), std::string::npos) << cmd << " lacks " << o;
        }
    }
    const auto top = run_dsv4("--help");
    EXPECT_EQ(top.status, 0);
    EXPECT_NE(top.out.find("run 'dsv4 <command> --help' for its options"), std::string::npos) << top.out;
}
