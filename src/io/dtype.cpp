#include "io/dtype.h"

#include <cmath>
#include <cstring>

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

uint8_t f32_to_e4m3(float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    const uint8_t sign = uint8_t((u >> 24) & 0x80);
    u &= 0x7fffffffu;
    if (u > 0x7f800000u) return 0x7f;            // NaN
    if (u >= 0x43e00000u) return sign | 0x7e;    // >= 448: saturate (there is no infinity)
    if (u < 0x3c800000u) {                       // below 2^-6: subnormal, multiples of 2^-9
        float a;
        std::memcpy(&a, &u, 4);
        // adding 2^23 rounds a * 512 (exact) to an integer, half to even
        const float r = (a * 512.0f + 0x1p23f) - 0x1p23f;
        return uint8_t(sign | int(r));           // 0..8 (8 is the smallest normal, 0x08)
    }
    // keep 3 of the 23 mantissa bits, rounding half to even (a carry bumps the exponent)
    u += 0x7ffffu + ((u >> 20) & 1);
    const int E = int(u >> 23) - 127 + 7, m = int((u >> 20) & 7);
    const int code = E << 3 | m;
    return uint8_t(sign | (code > 0x7e ? 0x7e : code));  // rounded past 448: saturate
}

uint8_t f32_to_e2m1(float v) {
    // magnitudes {0, .5, 1, 1.5, 2, 3, 4, 6}: count the midpoints below |v|; a midpoint itself
    // goes to the even code (>= for midpoints whose upper neighbour is even, > otherwise)
    const float a = std::fabs(v);
    if (std::isnan(v)) return uint8_t((std::signbit(v) ? 8 : 0) | 7);
    const int c = (a > 0.25f) + (a >= 0.75f) + (a > 1.25f) + (a >= 1.75f) + (a > 2.5f) + (a >= 3.5f) + (a > 5.0f);
    return uint8_t((std::signbit(v) ? 8 : 0) | c);
}

}  // namespace dsv4
