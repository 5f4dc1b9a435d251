// Shared helpers of the tokenizer tests: locating the (git-ignored) tokenizer.json files.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::test {

inline std::string tokenizer_path(const std::string& name) {
    return std::string(DSV4_TEST_DATA) + "/tokenizers/" + name + "/tokenizer.json";
}

inline bool under_ci() {
    const char* ci = std::getenv("CI");
    return ci && *ci && std::string(ci) != "0" && std::string(ci) != "false";
}

inline std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The tokenizer, loaded once per process; nullptr if the file is missing.
inline const Tokenizer* load_tokenizer(const std::string& name) {
    static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
    auto it = cache.find(name);
    if (it != cache.end()) return it->second.get();
    std::unique_ptr<Tokenizer> t;
    if (std::filesystem::exists(tokenizer_path(name)))
        t = std::make_unique<Tokenizer>(Tokenizer::from_file(tokenizer_path(name)));
    return cache.emplace(name, std::move(t)).first->second.get();
}

// A small byte-level BPE tokenizer.json (GPT-2 ByteLevel pre-tokenizer, a few merges and
// added tokens with every flag); HF tokenizers' ids for it are in test_tokenizer_unit.cpp.
inline nlohmann::json synthetic_tokenizer() {
    using nlohmann::json;
    dsv4::tok::ByteLevelAlphabet alphabet;
    json vocab = json::object();
    for (int b = 0; b < 256; ++b) vocab[alphabet.encode_byte(uint8_t(b))] = b;
    const std::vector<std::string> merges{"Ġ t", "h e",  "Ġt he", "Ġ a",  "i n",   "Ġa n",   "Ġan d", "e r",
                                          "Ġ w", "o r",  "Ġw or", "Ġwor d", "l l", "e ll", "h ell", "hell o"};
    int next = 256;
    for (const auto& m : merges) {
        std::string merged = m.substr(0, m.find(' ')) + m.substr(m.find(' ') + 1);
        if (!vocab.contains(merged)) vocab[merged] = next++;
    }
    auto added = [](int id, const char* content, bool single_word, bool lstrip, bool rstrip, bool normalized,
                    bool special) {
        return json{{"id", id},         {"content", content}, {"single_word", single_word}, {"lstrip", lstrip},
                    {"rstrip", rstrip}, {"normalized", normalized}, {"special", special}};
    };
    return json{
        {"version", "1.0"},
        {"added_tokens", json::array({added(272, "<s>", false, false, false, false, true),
                                      added(273, "[L]", false, true, false, false, false),
                                      added(274, "[R]", false, false, true, false, false),
                                      added(275, "word", true, false, false, true, false),
                                      added(276, "<s>x", false, false, false, true, false)})},
        {"normalizer", nullptr},
        {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
        {"post_processor", nullptr},
        {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
        {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
                   {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
                   {"vocab", vocab}, {"merges", merges}}},
    };
}

}  // namespace dsv4::test

// Skips the test locally when the tokenizer file is absent; fails under CI (CI=true).
#define DSV4_REQUIRE_TOKENIZER(var, name)                                                              \
    const ::dsv4::Tokenizer* var = ::dsv4::test::load_tokenizer(name);                                 \
    if (!var) {                                                                                        \
        if (::dsv4::test::under_ci())                                                                  \
            FAIL() << "missing " << ::dsv4::test::tokenizer_path(name) << " (run tools/fetch-tokenizers.sh)"; \
        GTEST_SKIP() << "missing " << ::dsv4::test::tokenizer_path(name)                               \
                     << "; run tools/fetch-tokenizers.sh to fetch it";                                 \
    }
