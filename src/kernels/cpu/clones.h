// DSV4_CLONES: build a function three times, for AVX-512 (x86-64-v4), AVX2 + FMA (x86-64-v3) and
// the baseline, the best one picked when the program loads (GCC function multiversioning). For
// element-wise loops the compiler vectorizes, whose every version returns the same bits: no sums
// in a changed order, and no a * b + c the compiler could fuse (or the file is built with
// -ffp-contract=off, as elementwise.cpp is).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DSV4_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DSV4_CLONES
#endif
