// JSON written the way the reference encoder writes it: Python's json.dumps(value, ensure_ascii=False)
// (docs/dsv4-chat.md §3.10).
#pragma once
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace dsv4::chat {

// Separators ", " and ": ", keys in stored order, non-ASCII unescaped, control characters as \u00xx,
// floats in Python's repr (shortest round trip: 0.1, 1e-05, 1e+16, 3.0), NaN/Infinity as Python spells them.
std::string py_dumps(const nlohmann::ordered_json& value);
// A string as a JSON string literal, Python-style.
std::string py_dumps_string(std::string_view s);
// A double as Python's repr() writes it.
std::string py_float_repr(double x);

}  // namespace dsv4::chat
