#include "kernels/cpu/elementwise.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "kernels/cpu/clones.h"

// Built with -ffp-contract=off (CMakeLists.txt): the polynomial's multiplies and adds stay
// separate in every build, so the AVX-512, AVX2 and baseline versions agree to the bit.
namespace dsv4::ew {

namespace {

inline float bits_f(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Branch-free, so loops of it vectorize. x is clamped to [-104, 89] (e^x is 0 below in fp32 and
// Inf above); n = rint(x / ln 2) by the 1.5 * 2^23 trick; r = x - n ln 2 in two parts (ln 2 =
// 0.693359375 - 2.12194440e-4, the first exact in 10 bits), |r| <= ln 2 / 2; e^r by the
// polynomial; times 2^a * 2^b with a + b = n, each power a normal float, so the one rounding
// happens at the last multiply (subnormal results included).
inline float exp_one(float x) {
    const float xc = std::min(89.0f, std::max(-104.0f, x));  // NaN -> -104 (NaN returned below)
    const float n = (xc * 1.44269504088896341f + 0x1.8p23f) - 0x1.8p23f;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    const float z = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * z + r;
    p = p + 1.0f;
    const int32_t ni = int32_t(n), a = ni / 2, b = ni - a;  // |a|, |b| <= 75
    const float y = (p * bits_f(uint32_t(a + 127) << 23)) * bits_f(uint32_t(b + 127) << 23);
    return x != x ? x : y;
}

}  // namespace

float exp(float x) { return exp_one(x); }

DSV4_CLONES void exp_shifted(const float* x, float shift, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = exp_one(x[i] - shift);
}

DSV4_CLONES void swiglu(float* g, const float* u, int64_t n, float limit) {
    const float L = limit > 0 ? limit : std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) {
        const float v = std::min(g[i], L), w = std::clamp(u[i], -L, L);
        g[i] = v / (1.0f + exp_one(-v)) * w;
    }
}

}  // namespace dsv4::ew
