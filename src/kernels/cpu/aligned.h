// Vectors on 64-byte boundaries: the kernels read activations and cached kv rows in whole cache
// lines (64-byte vector loads), and a line-crossing load costs two (the FP8 and MXFP4 gemvs ran
// 13-16% slower from L2 on Zen 5 with x 16 bytes off a line, which is where malloc puts large
// vectors).
#pragma once
#include <cstddef>
#include <new>
#include <vector>

namespace dsv4 {

template <class T>
struct Aligned64 {
    using value_type = T;
    Aligned64() = default;
    template <class U>
    Aligned64(const Aligned64<U>&) {}
    T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
    void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(64)); }
    template <class U>
    bool operator==(const Aligned64<U>&) const { return true; }
};
template <class T>
using avector = std::vector<T, Aligned64<T>>;

}  // namespace dsv4
