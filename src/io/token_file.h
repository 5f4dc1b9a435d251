// Token-id files: integers separated by spaces, commas or newlines (a JSON array also parses).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dsv4 {

std::vector<int32_t> parse_token_ids(const std::string& text, const std::string& source);
std::vector<int32_t> read_token_file(const std::string& path);
// "37,1,1" -> {37, 1, 1}
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& what);

}  // namespace dsv4
