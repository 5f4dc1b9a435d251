// Helpers shared by the tests: fixture paths, reading reference tensors, running the CLI.
#pragma once
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace dsv4::test {

inline std::string data_path(const std::string& rel) { return std::string(DSV4_TEST_DATA) + "/" + rel; }

inline std::vector<float> tensor_f32(const SafetensorsFile& f, const std::string& name) {
    auto it = f.tensors().find(name);
    if (it == f.tensors().end()) throw std::runtime_error("no tensor " + name);
    const auto& t = it->second;
    if (t.dtype != DType::F32) throw std::runtime_error(name + " is not F32");
    std::vector<float> v(size_t(t.numel()));
    std::memcpy(v.data(), t.data, t.nbytes);
    return v;
}

inline std::vector<int32_t> tensor_ids(const SafetensorsFile& f, const std::string& name) {
    auto it = f.tensors().find(name);
    if (it == f.tensors().end()) throw std::runtime_error("no tensor " + name);
    const auto& t = it->second;
    std::vector<int32_t> v(size_t(t.numel()));
    for (size_t i = 0; i < v.size(); ++i) {
        if (t.dtype == DType::I64) {
            int64_t x;
            std::memcpy(&x, t.data + 8 * i, 8);
            v[i] = int32_t(x);
        } else {
            std::memcpy(&v[i], t.data + 4 * i, 4);
        }
    }
    return v;
}

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return INFINITY;
    float m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

struct RunResult {
    int status;
    std::string out;  // stdout + stderr
};

// Runs the dsv4 binary with `args` (a shell-quoted string).
inline RunResult run_dsv4(const std::string& args) {
    std::string cmd = std::string(DSV4_BIN) + " " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) throw std::runtime_error("popen failed");
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int st = pclose(p);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : 128, out};
}

// A fresh directory for one test process (ctest -j runs test processes concurrently).
inline std::string temp_dir(const std::string& name) {
    std::string d = std::string(DSV4_BUILD_DIR) + "/test-tmp/" + name + "-" + std::to_string(::getpid());
    std::string cmd = "rm -rf '" + d + "' && mkdir -p '" + d + "'";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("cannot make " + d);
    return d;
}

}  // namespace dsv4::test
