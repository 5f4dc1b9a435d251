// Element-wise fp32 functions over arrays that the compiler vectorizes (built per instruction set,
// kernels/cpu/clones.h): the exponential of the softmaxes and the SwiGLU of the experts.
// Every build returns the same bits as the scalar ew::exp.
#pragma once
#include <cstdint>

namespace dsv4::ew {

// e^x to within 2 ulp (Cody-Waite reduction by ln 2, Cephes' degree-7 polynomial, scaling by
// 2^n in two exact steps): overflow gives +Inf, underflow rounds through the subnormals to 0,
// NaN stays NaN. std::exp's results differ from it by an ulp at most in most places.
float exp(float x);
// out[i] = exp(x[i] - shift); out may be x.
void exp_shifted(const float* x, float shift, float* out, int64_t n);
// The SwiGLU of an expert (dsv4-model.md "MoE"): g[i] <- silu(min(g[i], L)) * clamp(u[i], -L, L),
// silu(v) = v / (1 + exp(-v)); limit <= 0: no clamp.
void swiglu(float* g, const float* u, int64_t n, float limit);

}  // namespace dsv4::ew
