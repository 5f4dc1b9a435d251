// AVX-512 (F/BW/VL/DQ) kernels; this unit is compiled with those -m flags (CMakeLists.txt) and only
// called after CPUID says they are there. The int8 products use AVX512-VNNI where CPUID has it
// (functions built with target("avx512vnni"), matmul_simd.inc), else the 256-bit integer kernel;
// gemvs against x made of bf16 values (official numerics) use AVX512_BF16 dot products where
// CPUID has it.
#include "kernels/cpu/matmul_simd.inc"

namespace dsv4::kern {
const KernelSet& kernels_avx512() {
    static const KernelSet k = [] {
        KernelSet s{"avx512", reorders_x, reorder_x, gemv, gemm_scratch, gemm, dots, axpys, q8_order, matmul_q8};
        const bool vnni = __builtin_cpu_supports("avx512vnni"), bf16 = __builtin_cpu_supports("avx512bf16");
        if (vnni) {
            s.q8_order = q8_order_vnni;
            s.matmul_q8 = matmul_q8_vnni;
        }
        if (bf16) {
            s.reorder_x = reorder_x_bf16;
            s.gemv = gemv_bf16;
        }
        s.name = vnni && bf16 ? "avx512+vnni+bf16" : vnni ? "avx512+vnni" : bf16 ? "avx512+bf16" : "avx512";
        return s;
    }();
    return k;
}
}  // namespace dsv4::kern
