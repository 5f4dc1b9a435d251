// Tensor element types as safetensors names them, and the scalar conversions the kernels use.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace dsv4 {

enum class DType : uint8_t { F64, F32, F16, BF16, F8_E4M3, F8_E8M0, I64, I32, I16, I8, U8, BOOL };

std::optional<DType> dtype_from_name(std::string_view name);
const char* dtype_name(DType t);
size_t dtype_size(DType t);

inline float bf16_to_f32(uint16_t h) {
    uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

inline float f16_to_f32(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else {  // subnormal: renormalise
            int e = -1;
            do { man <<= 1; ++e; } while (!(man & 0x400));
            u = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | man << 13;
    } else {
        u = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// FP8 E4M3 "fn": bias 7, no infinities, 0x7f/0xff are NaN, max 448 (dsv4-formats.md).
inline float e4m3_to_f32(uint8_t b) {
    uint32_t sign = b >> 7, exp = (b >> 3) & 0xf, man = b & 7;
    float v;
    if (exp == 0xf && man == 7) return std::numeric_limits<float>::quiet_NaN();
    if (exp == 0) v = std::ldexp(float(man), -9);  // subnormal: man/8 * 2^-6
    else v = std::ldexp(1.0f + float(man) / 8.0f, int(exp) - 7);
    return sign ? -v : v;
}

// F8_E8M0: the power of two 2^(e-127); 255 is NaN.
inline float e8m0_to_f32(uint8_t e) {
    if (e == 255) return std::numeric_limits<float>::quiet_NaN();
    if (e == 0) return std::ldexp(1.0f, -127);
    uint32_t u = uint32_t(e) << 23;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// MXFP4 E2M1 code (4 bits): bit 3 sign, bits 0-2 index the magnitudes.
inline float e2m1_to_f32(uint8_t code) {
    static constexpr float kMag[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
    float v = kMag[code & 7];
    return (code & 8) ? -v : v;
}

// The encoders, round-to-nearest-even: E4M3 ("fn") byte nearest to v, saturating at +-448 (NaN
// stays NaN); E2M1 code nearest to v (ties to the even mantissa), saturating at +-6.
uint8_t f32_to_e4m3(float v);
uint8_t f32_to_e2m1(float v);

}  // namespace dsv4
