// Helpers shared by the chat tests: the golden file, running the dsv4 binary.
#pragma once
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace dsv4::test {

inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void spit(const std::filesystem::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary);
    out << s;
}

inline const nlohmann::ordered_json& chat_goldens() {
    static const nlohmann::ordered_json g =
        nlohmann::ordered_json::parse(slurp(std::string(DSV4_TEST_DATA) + "/chat/dsv4-chat-goldens.json"));
    return g;
}

// A scratch directory of this test process, removed at exit.
class TempDir {
public:
    TempDir() : path_(std::filesystem::temp_directory_path() / ("dsv4_test_" + std::to_string(::getpid()))) {
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

struct RunResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Runs `dsv4 ARGS` (arguments already shell-quoted by the caller) and captures stdout and stderr.
inline RunResult run_dsv4(const TempDir& dir, const std::string& args) {
    const auto out = dir.path() / "stdout";
    const auto err = dir.path() / "stderr";
    const std::string cmd = std::string("'") + DSV4_BIN + "' " + args + " >'" + out.string() + "' 2>'" + err.string() + "'";
    const int status = std::system(cmd.c_str());
    RunResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

}  // namespace dsv4::test
