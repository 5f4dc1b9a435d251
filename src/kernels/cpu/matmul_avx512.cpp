// AVX-512 (F/BW/VL/DQ) kernels; this unit is compiled with those -m flags (CMakeLists.txt) and only
// called after CPUID says they are there. The int8 products use AVX512-VNNI where CPUID has it
// (functions built with target("avx512vnni"), matmul_simd.inc), else the 256-bit integer kernel.
#include "kernels/cpu/matmul_simd.inc"

namespace dsv4::kern {
const KernelSet& kernels_avx512() {
    static const KernelSet k = [] {
        KernelSet s{"avx512", reorders_x, reorder_x, gemv, gemm_scratch, gemm, dots, axpys, q8_order, matmul_q8};
        if (__builtin_cpu_supports("avx512vnni")) {
            s.name = "avx512+vnni";
            s.q8_order = q8_order_vnni;
            s.matmul_q8 = matmul_q8_vnni;
        }
        return s;
    }();
    return k;
}
}  // namespace dsv4::kern
