#include "io/dtype.h"

namespace dsv4 {

namespace {
struct DTypeInfo {
    DType type;
    const char* name;
    size_t size;
};
constexpr DTypeInfo kTypes[] = {
    {DType::F64, "F64", 8},         {DType::F32, "F32", 4},         {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},       {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E8M0, "F8_E8M0", 1},
    {DType::I64, "I64", 8},         {DType::I32, "I32", 4},         {DType::I16, "I16", 2},
    {DType::I8, "I8", 1},           {DType::U8, "U8", 1},           {DType::BOOL, "BOOL", 1},
};
}  // namespace

std::optional<DType> dtype_from_name(std::string_view name) {
    for (const auto& t : kTypes)
        if (name == t.name) return t.type;
    return std::nullopt;
}

const char* dtype_name(DType t) {
    for (const auto& x : kTypes)
        if (x.type == t) return x.name;
    return "?";
}

size_t dtype_size(DType t) {
    for (const auto& x : kTypes)
        if (x.type == t) return x.size;
    return 0;
}

}  // namespace dsv4
