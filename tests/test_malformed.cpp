// Malformed checkpoints and inputs: each gives one clear line naming the file, tensor or field,
// and a non-zero exit; never a crash. Plus randomized (fuzz) tests of the two parsers.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "io/checkpoint.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "test_util.h"

using namespace dsv4;
using namespace dsv4::test;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string copy_fixture(const std::string& fixture, const std::string& name) {
    auto dir = temp_dir(name);
    for (auto& e : fs::directory_iterator(data_path(fixture)))
        if (e.path().filename() != "reference.safetensors" && e.path().filename() != "reference_official.safetensors")
            fs::copy_file(e.path(), fs::path(dir) / e.path().filename(), fs::copy_options::overwrite_existing);
    return dir;
}

std::string read_all(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_all(const std::string& p, const std::string& s) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(s.data(), std::streamsize(s.size()));
}

// A raw safetensors file from a header object and a data blob.
std::string raw_safetensors(const json& header, const std::string& data) {
    std::string h = header.dump();
    std::string out(8, '\0');
    uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xff);
    return out + h + data;
}

// Rewrites a checkpoint's model.safetensors through `edit` (which may drop or change tensors).
void rewrite_model(const std::string& dir, const std::function<void(std::vector<TensorOut>&)>& edit) {
    auto path = dir + "/model.safetensors";
    std::string blob = read_all(path);
    auto tensors = SafetensorsFile::parse_header(path, reinterpret_cast<const uint8_t*>(blob.data()), blob.size());
    std::vector<TensorOut> outs;
    for (auto& [name, t] : tensors) outs.push_back({name, t.dtype, t.shape, t.data, t.nbytes});
    edit(outs);
    write_safetensors(path, outs);
}

// The CLI fails with exactly one line that contains every `needle`.
void expect_one_line_error(const std::string& args, const std::vector<std::string>& needles) {
    auto r = run_dsv4(args);
    EXPECT_NE(r.status, 0) << r.out;
    EXPECT_LT(r.status, 128) << "crashed: " << r.out;
    ASSERT_FALSE(r.out.empty());
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    for (auto& n : needles) EXPECT_NE(r.out.find(n), std::string::npos) << "missing '" << n << "' in: " << r.out;
}

std::string logits_cmd(const std::string& dir) {
    static std::string toks = [] {
        auto d = temp_dir("tokens");
        write_all(d + "/t.txt", "1 2 3, 4\n5");
        return d + "/t.txt";
    }();
    return "logits --model '" + dir + "' --tokens '" + toks + "' --out '" + dir + "/out.safetensors'";
}

}  // namespace

TEST(Malformed, TruncatedSafetensors) {
    auto dir = copy_fixture("dsv4-tiny-a", "trunc");
    auto s = read_all(dir + "/model.safetensors");
    write_all(dir + "/model.safetensors", s.substr(0, s.size() / 2));
    expect_one_line_error(logits_cmd(dir), {"model.safetensors", "runs past the end"});
    write_all(dir + "/model.safetensors", s.substr(0, 5));
    expect_one_line_error(logits_cmd(dir), {"model.safetensors", "truncated"});
    write_all(dir + "/model.safetensors", s.substr(0, 100));
    expect_one_line_error(logits_cmd(dir), {"model.safetensors", "truncated: header length"});
}

// Read into memory (Resident), every tensor starts on a 64-byte boundary whatever its offset in
// the file (the kernels' vector loads), and holds the same bytes as the memory-mapped file.
TEST(Safetensors, ResidentTensorsAreAlignedAndExact) {
    const std::string dir = temp_dir("aligned");
    std::vector<std::vector<uint8_t>> blobs;
    std::vector<TensorOut> out;
    for (size_t i = 0; i < 9; ++i) {  // sizes 1, 7, 13, ... bytes, so most offsets are odd
        blobs.emplace_back(1 + 6 * i * i);
        for (size_t j = 0; j < blobs.back().size(); ++j) blobs.back()[j] = uint8_t(31 * i + 7 * j);
        std::string name = "t";
        name += char('0' + i);
        out.push_back({name, DType::U8, {int64_t(blobs.back().size())}, blobs.back().data(), blobs.back().size()});
    }
    out.push_back({"empty", DType::U8, {0}, nullptr, 0});
    write_safetensors(dir + "/a.safetensors", out, {{"format", "pt"}});
    auto mapped = SafetensorsFile::open(dir + "/a.safetensors", Residency::Mapped);
    auto resident = SafetensorsFile::open(dir + "/a.safetensors", Residency::Resident);
    ASSERT_EQ(resident->tensors().size(), out.size());
    int odd_in_file = 0;
    for (const auto& [name, t] : resident->tensors()) {
        const TensorView& m = mapped->tensors().at(name);
        ASSERT_EQ(t.nbytes, m.nbytes) << name;
        if (t.nbytes == 0) continue;
        EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % 64, 0u) << name;
        odd_in_file += reinterpret_cast<uintptr_t>(m.data) % 64 != 0;
        EXPECT_EQ(std::memcmp(t.data, m.data, t.nbytes), 0) << name;
    }
    EXPECT_GT(odd_in_file, 4);  // the file itself did not line them up
    EXPECT_EQ(resident->metadata().at("format"), "pt");

    // Files dsv4 writes put tensors of whole 64-byte multiples first, from a 64-byte boundary:
    // those stay aligned when mapped too.
    std::vector<uint8_t> big(4096, 3);
    out.insert(out.begin() + 3, {"big", DType::U8, {4096}, big.data(), big.size()});
    out.push_back({"big2", DType::U8, {128}, big.data(), 128});
    write_safetensors(dir + "/b.safetensors", out);
    auto mb = SafetensorsFile::open(dir + "/b.safetensors", Residency::Mapped);
    for (const char* name : {"big", "big2"}) {
        const TensorView& t = mb->tensors().at(name);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % 64, 0u) << name;
        EXPECT_EQ(std::memcmp(t.data, big.data(), t.nbytes), 0) << name;
    }
    EXPECT_EQ(std::memcmp(mb->tensors().at("t5").data, blobs[5].data(), blobs[5].size()), 0);
}

TEST(Malformed, OverlappingAndOutOfRangeOffsets) {
    auto dir = temp_dir("overlap");
    std::string data(64, '\0');
    json h = {{"a", {{"dtype", "F32"}, {"shape", {8}}, {"data_offsets", {0, 32}}}},
              {"b", {{"dtype", "F32"}, {"shape", {8}}, {"data_offsets", {16, 48}}}}};
    write_all(dir + "/x.safetensors", raw_safetensors(h, data));
    try {
        SafetensorsFile::open(dir + "/x.safetensors");
        FAIL() << "overlap accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("'a' and 'b' overlap"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("x.safetensors"), std::string::npos) << e.what();
    }
    h = {{"a", {{"dtype", "F32"}, {"shape", {32}}, {"data_offsets", {0, 128}}}}};
    write_all(dir + "/y.safetensors", raw_safetensors(h, data));
    EXPECT_THROW(
        {
            try {
                SafetensorsFile::open(dir + "/y.safetensors");
            } catch (const std::runtime_error& e) {
                EXPECT_NE(std::string(e.what()).find("tensor 'a': data_offsets end 128 runs past the end"), std::string::npos)
                    << e.what();
                throw;
            }
        },
        std::runtime_error);
    h = {{"a", {{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {0, 16}}}}};
    write_all(dir + "/z.safetensors", raw_safetensors(h, data));
    try {
        SafetensorsFile::open(dir + "/z.safetensors");
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("holds 16 bytes but F32 [3] needs 12"), std::string::npos) << e.what();
    }
    h = {{"a", {{"dtype", "Q4_K"}, {"shape", {4}}, {"data_offsets", {0, 16}}}}};
    write_all(dir + "/w.safetensors", raw_safetensors(h, data));
    try {
        SafetensorsFile::open(dir + "/w.safetensors");
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("unknown dtype 'Q4_K'"), std::string::npos) << e.what();
    }
}

TEST(Malformed, MissingShard) {
    auto dir = copy_fixture("dsv4-small-fp8", "noshard");
    fs::remove(dir + "/model-00002-of-00002.safetensors");
    expect_one_line_error(logits_cmd(dir), {"model-00002-of-00002.safetensors", "missing shard"});
}

TEST(Malformed, WrongShapeMissingTensorWrongDtype) {
    auto dir = copy_fixture("dsv4-tiny-a", "shape");
    rewrite_model(dir, [](std::vector<TensorOut>& ts) {
        for (auto& t : ts)
            if (t.name == "model.layers.1.attn.wq_a.weight") t.shape = {64, 48};
    });
    expect_one_line_error(logits_cmd(dir), {"model.safetensors", "layers.1.attn.wq_a.weight", "shape [64, 48], expected [48, 64]"});

    dir = copy_fixture("dsv4-tiny-a", "missing");
    rewrite_model(dir, [](std::vector<TensorOut>& ts) {
        std::erase_if(ts, [](auto& t) { return t.name == "model.layers.2.attn.compressor.ape"; });
    });
    expect_one_line_error(logits_cmd(dir), {"missing tensor 'layers.2.attn.compressor.ape'"});

    dir = copy_fixture("dsv4-tiny-a", "dtype");
    rewrite_model(dir, [](std::vector<TensorOut>& ts) {
        for (auto& t : ts)
            if (t.name == "model.norm.weight") t.dtype = DType::I32;
    });
    expect_one_line_error(logits_cmd(dir), {"norm.weight", "dtype I32"});

    // An FP8 weight whose block scale is missing.
    dir = copy_fixture("dsv4-small-fp8", "noscale");
    auto idx = json::parse(read_all(dir + "/model.safetensors.index.json"));
    idx["weight_map"].erase("layers.0.attn.wq_a.scale");
    write_all(dir + "/model.safetensors.index.json", idx.dump());
    expect_one_line_error(logits_cmd(dir), {"layers.0.attn.wq_a.weight", "without its scale tensor"});
}

TEST(Malformed, ContradictoryConfig) {
    auto dir = copy_fixture("dsv4-tiny-a", "config");
    auto cfg = json::parse(read_all(dir + "/config.json"));
    cfg["num_hidden_layers"] = 4;
    write_all(dir + "/config.json", cfg.dump());
    expect_one_line_error(logits_cmd(dir), {"config.json", "layer_types", "has 5 entries but num_hidden_layers is 4"});
    cfg["num_hidden_layers"] = 5;
    cfg["mlp_layer_types"][1] = "dense";
    write_all(dir + "/config.json", cfg.dump());
    expect_one_line_error(logits_cmd(dir), {"mlp_layer_types[1]", "dense"});
    cfg["mlp_layer_types"][1] = "moe";
    cfg["o_groups"] = 3;
    write_all(dir + "/config.json", cfg.dump());
    expect_one_line_error(logits_cmd(dir), {"o_groups", "does not divide"});
    write_all(dir + "/config.json", "{\"vocab_size\": 12,");
    expect_one_line_error(logits_cmd(dir), {"config.json", "not valid JSON"});
    fs::remove(dir + "/config.json");
    expect_one_line_error(logits_cmd(dir), {"config.json", "cannot open"});
}

TEST(Malformed, BadTokensAndOptions) {
    auto dir = data_path("dsv4-tiny-a");
    auto tmp = temp_dir("badtokens");
    write_all(tmp + "/big.txt", "1 2 512");
    expect_one_line_error("logits --model '" + dir + "' --tokens '" + tmp + "/big.txt' --out '" + tmp + "/o.safetensors'",
                          {"token id 512", "outside the vocabulary"});
    write_all(tmp + "/junk.txt", "1 2\nthree");
    expect_one_line_error("logits --model '" + dir + "' --tokens '" + tmp + "/junk.txt' --out '" + tmp + "/o.safetensors'",
                          {"junk.txt:2", "expected a token id"});
    write_all(tmp + "/ok.txt", "1 2 3");
    expect_one_line_error("logits --model '" + dir + "' --tokens '" + tmp + "/ok.txt' --chunks 1,1 --out '" + tmp + "/o.safetensors'",
                          {"--chunks sum to 2", "3 tokens"});
    expect_one_line_error("logits --model '" + dir + "' --tokens '" + tmp + "/ok.txt' --out '" + tmp + "/o.safetensors' --bogus 1",
                          {"unknown option --bogus"});
    expect_one_line_error("generate --model '" + dir + "' --tokens '" + tmp + "/ok.txt' --max-new-tokens x",
                          {"--max-new-tokens expects an integer"});
}

// ---- randomized robustness (fuzz) tests: every outcome is a parse or a std::exception ----

TEST(Fuzz, SafetensorsHeaderMutations) {
    // A small valid file with tensors of several dtypes and shapes, then random damage to it.
    auto dir = temp_dir("fuzz");
    std::vector<float> f(64, 1.0f);
    std::vector<uint8_t> bytes(96, 7);
    write_safetensors(dir + "/base.safetensors",
                      {{"a.weight", DType::F32, {4, 8}, f.data(), 128},
                       {"b", DType::BF16, {3, 5}, bytes.data(), 30},
                       {"c.scale", DType::F8_E8M0, {2, 3}, bytes.data(), 6},
                       {"d", DType::I8, {6, 4}, bytes.data(), 24},
                       {"e", DType::I64, {2}, bytes.data(), 16},
                       {"empty", DType::F32, {0, 3}, f.data(), 0}},
                      {{"format", "pt"}});
    const std::string original = read_all(dir + "/base.safetensors");
    ASSERT_NO_THROW(SafetensorsFile::parse_header("base", reinterpret_cast<const uint8_t*>(original.data()), original.size()));
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(original[size_t(i)])) << (8 * i);
    std::mt19937_64 g(1234);
    int parsed = 0, rejected = 0;
    const std::string alphabet = std::string("{}[]\":,0123456789-eE.FIBUQ_ abcdefghijklmnopqrstuvwxyz\\") + '\0' + '\xff';
    for (int it = 0; it < 4000; ++it) {
        std::string b = original;
        int edits = 1 + int(g() % 6);
        for (int e = 0; e < edits && b.size() > 9; ++e) {
            switch (g() % 5) {
                case 0: b[size_t(8 + g() % (b.size() - 8))] = alphabet[g() % alphabet.size()]; break;  // flip a header char
                case 1: b[size_t(g() % 8)] = char(g()); break;               // header length
                case 2: b.resize(size_t(g() % b.size())); break;             // truncate
                case 3: {                                                     // delete a span of the header
                    size_t at = 8 + g() % n, len = g() % 40;
                    if (at < b.size()) b.erase(at, len);
                    break;
                }
                case 4: {  // swap digits inside offsets/shapes
                    size_t at = 8 + g() % n;
                    if (at < b.size() && isdigit(static_cast<unsigned char>(b[at]))) b[at] = char('0' + g() % 10);
                    break;
                }
            }
        }
        try {
            auto t = SafetensorsFile::parse_header("fuzz", reinterpret_cast<const uint8_t*>(b.data()), b.size());
            for (auto& [name, v] : t) {  // whatever parsed must lie inside the buffer
                ASSERT_GE(v.data, reinterpret_cast<const uint8_t*>(b.data()));
                ASSERT_LE(v.data + v.nbytes, reinterpret_cast<const uint8_t*>(b.data()) + b.size());
            }
            ++parsed;
        } catch (const std::runtime_error&) {
            ++rejected;
        }
    }
    std::printf("safetensors header fuzz: %d parsed, %d rejected with a message\n", parsed, rejected);
    EXPECT_GT(rejected, 1000);
    EXPECT_GT(parsed, 50);
}

TEST(Fuzz, ConfigMutations) {
    std::vector<json> bases = {json::parse(read_all(data_path("dsv4-tiny-a/config.json"))),
                               json::parse(read_all(data_path("dsv4-small-fp8/config.json")))};
    for (auto& b : bases) ASSERT_NO_THROW(ModelConfig::from_json(b, "base"));
    std::mt19937_64 g(99);
    const std::vector<json> values = {nullptr, -1, 0, 1, 3, 4, 1e30, -1e30, 1.5, "x", json::array(), json::object(),
                                      int64_t(1) << 40, true, json::array({1, 2}), json::array({"moe"}),
                                      json{{"type", "yarn"}}, 1e-300};
    int parsed = 0, rejected = 0;
    for (int it = 0; it < 4000; ++it) {
        json j = bases[g() % bases.size()].flatten();
        int edits = 1 + int(g() % 4);
        for (int e = 0; e < edits; ++e) {
            auto pick = j.begin();
            std::advance(pick, long(g() % j.size()));
            std::string key = pick.key();
            if (g() % 4 == 0) j.erase(key);
            else j[key] = values[g() % values.size()];
            if (j.empty()) break;
        }
        json cfg;
        try {
            cfg = j.unflatten();
        } catch (const json::exception&) {
            continue;
        }
        try {
            auto c = ModelConfig::from_json(cfg, "fuzz");
            EXPECT_EQ(c.layers.size(), size_t(c.num_hidden_layers));
            ++parsed;
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find("fuzz: "), std::string::npos) << e.what();
            ++rejected;
        }
    }
    std::printf("config fuzz: %d parsed, %d rejected with a message\n", parsed, rejected);
    EXPECT_GT(rejected, 1000);
}
