#include "io/token_file.h"

#include <cctype>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace dsv4 {

std::vector<int32_t> parse_token_ids(const std::string& text, const std::string& source) {
    std::vector<int32_t> ids;
    size_t i = 0, line = 1;
    while (i < text.size()) {
        char ch = text[i];
        if (ch == '\n') ++line;
        if (std::isspace(static_cast<unsigned char>(ch)) || ch == ',' || ch == '[' || ch == ']') {
            ++i;
            continue;
        }
        size_t j = i;
        if (text[j] == '-' || text[j] == '+') ++j;
        size_t digits = j;
        while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
        if (j == digits)
            throw std::runtime_error(source + ":" + std::to_string(line) + ": expected a token id, found '" +
                                     text.substr(i, std::min<size_t>(16, text.size() - i)) + "'");
        long long v = 0;
        try {
            v = std::stoll(text.substr(i, j - i));
        } catch (const std::exception&) {
            v = std::numeric_limits<long long>::max();
        }
        if (v < 0 || v > std::numeric_limits<int32_t>::max())
            throw std::runtime_error(source + ":" + std::to_string(line) + ": token id " + text.substr(i, j - i) +
                                     " is out of range");
        ids.push_back(int32_t(v));
        i = j;
    }
    return ids;
}

std::vector<int32_t> read_token_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error(path + ": cannot open token file");
    std::stringstream ss;
    ss << f.rdbuf();
    auto ids = parse_token_ids(ss.str(), path);
    if (ids.empty()) throw std::runtime_error(path + ": no token ids in the file");
    return ids;
}

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& what) {
    std::vector<int64_t> out;
    for (int32_t v : parse_token_ids(text, what)) out.push_back(v);
    return out;
}

}  // namespace dsv4
