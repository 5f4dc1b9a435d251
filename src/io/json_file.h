// Reads a whole JSON file; errors name the file (cannot open / not valid JSON).
#pragma once
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>

namespace dsv4 {

inline nlohmann::json read_json_file(const std::string& path, const std::string& hint = "") {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error(path + ": cannot open" + (hint.empty() ? "" : " (" + hint + ")"));
    std::stringstream ss;
    ss << f.rdbuf();
    try {
        return nlohmann::json::parse(ss.str());
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(path + ": not valid JSON: " + e.what());
    }
}

}  // namespace dsv4
