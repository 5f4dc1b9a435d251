// dsv4 tokenize / detokenize as the hidden checks call them.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "tokenizer_test_util.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct CliResult {
    int status;
    std::string out, err;
};

class TokenizerCli : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("dsv4_cli_" + std::to_string(::getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    void write(const std::string& name, const std::string& content) const { std::ofstream(path(name)) << content; }
    CliResult run(const std::string& args) const {
        std::string cmd = std::string(DSV4_BIN) + " " + args + " >" + path("stdout") + " 2>" + path("stderr");
        int rc = std::system(cmd.c_str());
        return {WIFEXITED(rc) ? WEXITSTATUS(rc) : 128, dsv4::test::read_text(path("stdout")),
                dsv4::test::read_text(path("stderr"))};
    }
    // A failed run: non-zero status, one error line that mentions `needle`.
    void expect_error(const std::string& args, const std::string& needle) const {
        CliResult r = run(args);
        EXPECT_NE(r.status, 0) << args;
        EXPECT_LT(r.status, 128) << "crashed: " << args;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err;
    }
    static std::string q(const std::string& s) { return "'" + s + "'"; }
    fs::path dir_;
};

const std::string kV4 = dsv4::test::tokenizer_path("deepseek_v4");

}  // namespace

TEST_F(TokenizerCli, BatchRoundTrip) {
    DSV4_REQUIRE_TOKENIZER(tok, "deepseek_v4");
    const json texts = {"Hello, world!", "", "<｜User｜>你好<｜Assistant｜><think>推理</think>答案<｜end▁of▁sentence｜>",
                        "  spaces\n\ttabs 12345 🙂"};
    write("in.json", texts.dump());
    CliResult r = run("tokenize --tokenizer " + q(kV4) + " --input " + path("in.json") + " --out " + path("ids.json"));
    ASSERT_EQ(r.status, 0) << r.err;
    json ids = json::parse(dsv4::test::read_text(path("ids.json")));
    ASSERT_EQ(ids.size(), texts.size());
    for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(ids[i].get<std::vector<int32_t>>(), tok->encode(texts[i].get<std::string>()));
    EXPECT_EQ(ids[2], json({128803, 30594, 128804, 128821, 36101, 128822, 7624, 1}));

    r = run("detokenize --tokenizer " + q(kV4) + " --input " + path("ids.json") + " --out " + path("texts.json"));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json::parse(dsv4::test::read_text(path("texts.json"))), texts);
}

TEST_F(TokenizerCli, Text) {
    DSV4_REQUIRE_TOKENIZER(tok, "deepseek_v4");
    CliResult r = run("tokenize --tokenizer " + q(kV4) + " --text " + q("<think>推理</think>"));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json::parse(r.out), json({128821, 36101, 128822}));
    r = run("detokenize --tokenizer " + q(kV4) + " --text 128821,36101,128822");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "<think>推理</think>\n");
    r = run("detokenize --tokenizer " + q(kV4) + " --text '[128821, 36101]'");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "<think>推理\n");
}

TEST_F(TokenizerCli, BadInput) {
    // A small tokenizer keeps these runs fast (also under ASan); vocab size 277.
    write("small.json", dsv4::test::synthetic_tokenizer().dump());
    const std::string t = "--tokenizer " + path("small.json") + " ";
    expect_error("tokenize " + t + "--input " + path("missing.json") + " --out " + path("o.json"), "missing.json");
    write("bad.json", "[\"unterminated");
    expect_error("tokenize " + t + "--input " + path("bad.json") + " --out " + path("o.json"), "bad.json");
    write("obj.json", "{\"a\": 1}");
    expect_error("tokenize " + t + "--input " + path("obj.json") + " --out " + path("o.json"), "obj.json");
    write("types.json", "[\"ok\", 5]");
    expect_error("tokenize " + t + "--input " + path("types.json") + " --out " + path("o.json"), "[1]");
    write("ids.json", "[[1, 2], [3, \"x\"]]");
    expect_error("detokenize " + t + "--input " + path("ids.json") + " --out " + path("o.json"), "[1][1]");
    write("range.json", "[[1, 2], [3, 277]]");
    expect_error("detokenize " + t + "--input " + path("range.json") + " --out " + path("o.json"), "277");
    write("neg.json", "[[-1]]");
    expect_error("detokenize " + t + "--input " + path("neg.json") + " --out " + path("o.json"), "-1");
    write("flat.json", "[1, 2]");
    expect_error("detokenize " + t + "--input " + path("flat.json") + " --out " + path("o.json"), "flat.json");
    expect_error("detokenize " + t + "--text 1,x", "--text");
    expect_error("detokenize " + t + "--text 999999", "999999");
    expect_error("tokenize " + t + "--input " + path("types.json"), "--out");
    expect_error("tokenize " + t + "--text a --bogus 1", "--bogus");
    write("in.json", "[\"a\"]");
    expect_error("tokenize " + t + "--input " + path("in.json") + " --out " + path("no/such/dir/o.json"), "o.json");
}

TEST_F(TokenizerCli, IdOutOfRangeForDeepSeekV4) {
    DSV4_REQUIRE_TOKENIZER(tok, "deepseek_v4");
    write("range.json", "[[1, 2], [3, 129280]]");
    expect_error("detokenize --tokenizer " + q(kV4) + " --input " + path("range.json") + " --out " + path("o.json"),
                 "129280");
}

TEST_F(TokenizerCli, MissingOrBrokenTokenizerFile) {
    expect_error("tokenize --tokenizer " + path("nope.json") + " --text hi", "nope.json");
    write("notjson.json", "not json");
    expect_error("detokenize --tokenizer " + path("notjson.json") + " --text 1", "notjson.json");
    expect_error("tokenize --text hi", "--tokenizer");
}
