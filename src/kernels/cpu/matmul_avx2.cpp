// AVX2 + FMA + F16C kernels; compiled with those -m flags (CMakeLists.txt) and only called after
// CPUID says they are there.
#include "kernels/cpu/matmul_simd.inc"

namespace dsv4::kern {
const KernelSet& kernels_avx2() {
    static constexpr KernelSet k{"avx2", reorders_x, reorder_x, gemv, gemm_scratch, gemm, dots, axpys, q8_order, matmul_q8};
    return k;
}
}  // namespace dsv4::kern
