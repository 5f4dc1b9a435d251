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
