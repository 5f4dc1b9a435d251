#include "kernels/cpu/matmul.h"

#include "kernels/cpu/aligned.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/kernel_iface.h"

namespace dsv4 {

void dequant_row(const Linear& W, int64_t row, float* out) {
    const uint8_t* r = W.data + row * W.row_bytes;
    const int64_t n = W.in;
    switch (W.format) {
        case Linear::Format::F32: std::memcpy(out, r, size_t(n) * 4); break;
        case Linear::Format::BF16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, r + 2 * i, 2);
                out[i] = bf16_to_f32(h);
            }
            break;
        case Linear::Format::F16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, r + 2 * i, 2);
                out[i] = f16_to_f32(h);
            }
            break;
        case Linear::Format::FP8: {
            float lut[256];
            for (int b = 0; b < 256; ++b) lut[b] = e4m3_to_f32(uint8_t(b));
            for (int64_t c0 = 0; c0 < n; c0 += W.block_in) {
                float s = W.scale_at(row, c0);
                int64_t c1 = std::min(n, c0 + W.block_in);
                for (int64_t i = c0; i < c1; ++i) out[i] = lut[r[i]] * s;
            }
            break;
        }
        case Linear::Format::FP4:
            for (int64_t c0 = 0; c0 < n; c0 += W.block_in) {
                float s = W.scale_at(row, c0);
                int64_t c1 = std::min(n, c0 + W.block_in);
                for (int64_t i = c0; i < c1; ++i) {
                    uint8_t byte = r[i / 2];
                    out[i] = e2m1_to_f32((i & 1) ? (byte >> 4) : (byte & 0xf)) * s;
                }
            }
            break;
    }
}

float dot_f32(const float* a, const float* b, int64_t n) {
    // 16 independent partial sums: vectorizes without reassociating a single chain.
    float acc[16] = {};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; ++k) acc[k] += a[i + k] * b[i + k];
    float tail = 0;
    for (; i < n; ++i) tail += a[i] * b[i];
    float s = 0;
    for (int k = 0; k < 16; ++k) s += acc[k];
    return s + tail;
}

bool q8_applies(const Linear& W, int64_t T) {
    return T == 1 && W.format == Linear::Format::FP4 && W.block_in == 32 && W.in % 32 == 0 && W.in > 0;
}

void quantize_q8(const float* x, int64_t n, int8_t* q, float* d) {
    for (int64_t b = 0; b < n / 32; ++b) {
        const float* xb = x + 32 * b;
        float amax = 0;
        bool finite = true;
        for (int i = 0; i < 32; ++i) {
            finite = finite && std::isfinite(xb[i]);
            amax = std::max(amax, std::fabs(xb[i]));
        }
        if (!finite || amax == 0) {
            d[b] = finite ? 0.0f : std::numeric_limits<float>::quiet_NaN();
            std::fill_n(q + 32 * b, 32, int8_t(0));
            continue;
        }
        d[b] = amax / 127.0f;
        const float id = 127.0f / amax;
        for (int i = 0; i < 32; ++i) q[32 * b + i] = int8_t(std::clamp(std::nearbyint(xb[i] * id), -127.0f, 127.0f));
    }
}

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::Scalar: return "scalar";
        case Isa::Avx2: return "avx2";
        case Isa::Avx512: return "avx512";
    }
    return "?";
}

bool isa_supported(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
    switch (isa) {
        case Isa::Scalar: return true;
        case Isa::Avx2:
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
        case Isa::Avx512:
            return isa_supported(Isa::Avx2) && __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512dq");
    }
#endif
    return isa == Isa::Scalar;
}

Isa best_isa() {
    static const Isa chosen = [] {
        Isa cap = Isa::Avx512;
        if (const char* e = std::getenv("DSV4_ISA")) {
            std::string v = e;
            if (v == "scalar") cap = Isa::Scalar;
            else if (v == "avx2") cap = Isa::Avx2;
            else if (v != "avx512" && !v.empty())
                throw std::runtime_error("DSV4_ISA='" + v + "': expected scalar, avx2 or avx512");
        }
        for (Isa i : {Isa::Avx512, Isa::Avx2})
            if (int(i) <= int(cap) && isa_supported(i)) return i;
        return Isa::Scalar;
    }();
    return chosen;
}

namespace {

kern::WView view_of(const Linear& W) {
    kern::WView v{};
    v.fmt = kern::Fmt(uint8_t(W.format));  // same enumerator order
    v.out = W.out;
    v.in = W.in;
    v.data = W.data;
    v.row_bytes = W.row_bytes;
    v.scale = W.scale;
    v.scale_f32 = W.scale_dtype == DType::F32;
    v.scale_cols = W.scale_cols;
    v.block_out = W.block_out;
    v.block_in = W.block_in;
    return v;
}

const kern::KernelSet* kernels_for(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
    if (isa == Isa::Avx512) return &kern::kernels_avx512();
    if (isa == Isa::Avx2) return &kern::kernels_avx2();
#endif
    return nullptr;
}

// The portable reference: rows dequantized 4 at a time, then fp32 dots.
void scalar_rows(const Linear& W, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t T, int64_t r0,
                 int64_t r1, std::vector<float>& buf) {
    constexpr int64_t kTile = 4;
    const int64_t in = W.in;
    buf.resize(size_t(kTile * in));
    for (int64_t o = r0; o < r1; o += kTile) {
        const int64_t nr = std::min(kTile, r1 - o);
        for (int64_t k = 0; k < nr; ++k) dequant_row(W, o + k, buf.data() + k * in);
        for (int64_t t = 0; t < T; ++t)
            for (int64_t k = 0; k < nr; ++k) y[t * ldy + (o - r0) + k] = dot_f32(buf.data() + k * in, x + t * ldx, in);
    }
}


// x as the kernel set `ks` reads it for W: reordered into buf when it asks for that, copied there
// when a gemv's x is not on a cache line boundary.
struct Input {
    avector<float> buf;
    const float* x;
    int64_t ldx;
    kern::XForm xf;  // how reorder_x left x (scaled, bf16)
    // int8 activations (MatmulJob::x_int8): T rows of `in` codes and of their block scales, in
    // the kernels' layout (KernelSet::q8_order), natural for the scalar path
    bool int8 = false;
    avector<int8_t> q;
    avector<float> d;
};
Input input_for(const kern::KernelSet* ks, const Linear& W, const float* x, int64_t ldx, int64_t T, bool x_int8) {
    Input in;
    in.x = x;
    in.ldx = ldx;
    if (x_int8 && q8_applies(W, T)) {
        in.int8 = true;
        const int64_t nb = W.in / 32, ds = ks ? kern::q8_d_stride(W.in) : nb;
        in.q.resize(size_t(T * W.in));
        in.d.resize(size_t(T * ds));
        std::vector<int8_t> qn(ks ? size_t(W.in) : 0);
        std::vector<float> dn(ks ? size_t(nb) : 0);
        for (int64_t t = 0; t < T; ++t) {
            int8_t* qt = in.q.data() + t * W.in;
            float* dt = in.d.data() + t * ds;
            quantize_q8(x + t * ldx, W.in, ks ? qn.data() : qt, ks ? dn.data() : dt);
            if (ks) ks->q8_order(qn.data(), dn.data(), W.in, qt, dt);
        }
        return in;
    }
    const kern::Fmt fmt = kern::Fmt(uint8_t(W.format));
    if (ks && ks->reorders_x(fmt, W.in, W.block_in, T)) {
        in.buf.resize(size_t(T * W.in));
        in.xf = ks->reorder_x(fmt, x, ldx, T, W.in, W.block_in, in.buf.data());
        in.x = in.buf.data();
        in.ldx = W.in;
    } else if (ks && T == 1 && reinterpret_cast<uintptr_t>(x) % 64 != 0) {
        in.buf.assign(x, x + W.in);
        in.x = in.buf.data();
    }
    return in;
}

// The int8-activation reference: the exact integer dot of each 32-block, times d * scale in fp32.
void scalar_q8_rows(const Linear& W, const int8_t* q, const float* d, int64_t T, float* y, int64_t ldy, int64_t r0,
                    int64_t r1) {
    static constexpr int kTwice[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};  // 2 * E2M1
    const int64_t nb = W.in / 32;
    for (int64_t o = r0; o < r1; ++o) {
        const uint8_t* r = W.data + o * W.row_bytes;
        for (int64_t t = 0; t < T; ++t) {
            const int8_t* qt = q + t * W.in;
            float acc = 0;
            for (int64_t b = 0; b < nb; ++b) {
                int32_t s = 0;
                for (int64_t i = 32 * b; i < 32 * b + 32; ++i)
                    s += kTwice[(i & 1) ? r[i / 2] >> 4 : r[i / 2] & 15] * int32_t(qt[i]);
                acc += float(s) * (W.scale_at(o, 32 * b) * d[t * nb + b] * 0.5f);
            }
            y[t * ldy + o - r0] = acc;
        }
    }
}

// Rows [r0, r1) of one product on the calling thread; y points at row r0's slot.
void run_rows(const kern::KernelSet* ks, const kern::WView& v, const Linear& W, const Input& in, float* y, int64_t ldy,
              int64_t T, int64_t r0, int64_t r1, std::vector<float>& scratch) {
    const float* x = in.x;
    const int64_t ldx = in.ldx;
    if (in.int8) {
        if (!ks) return scalar_q8_rows(W, in.q.data(), in.d.data(), T, y, ldy, r0, r1);
        return ks->matmul_q8(v, in.q.data(), in.d.data(), T, y, ldy, r0, r1);
    }
    if (!ks) return scalar_rows(W, x, ldx, y, ldy, T, r0, r1, scratch);
    if (T == 1) return ks->gemv(v, x, in.xf, y, r0, r1);
    // The GEMM's scratch (dequantized rows and packed tokens, up to a few MB) is kept per thread
    // and only grown: products run thousands of times per forward and must not allocate and
    // zero megabytes each time.
    thread_local avector<float> gemm_buf;
    const size_t need = size_t(ks->gemm_scratch(W.in, T));
    if (gemm_buf.size() < need) gemm_buf.resize(need);
    ks->gemm(v, x, ldx, y, ldy, T, r0, r1, gemm_buf.data());
}

void check_isa(Isa isa) {
    if (!isa_supported(isa))
        throw std::runtime_error(std::string("matmul: this CPU lacks the ") + isa_name(isa) + " instructions");
}

}  // namespace

const char* kernels_name(Isa isa) {
    const kern::KernelSet* ks = isa_supported(isa) ? kernels_for(isa) : nullptr;
    return ks ? ks->name : isa_name(isa);
}

void matmul_batch(ThreadPool& pool, std::span<const MatmulJob> jobs, Isa isa) {
    check_isa(isa);
    const kern::KernelSet* ks = kernels_for(isa);
    // Threads take chunks of 16 rows (one cache line of y per token at each boundary: no false
    // sharing), and only when each gets enough multiply-adds to pay for waking it. A gemv's rows
    // longer than 2 KB come in smaller chunks (at least 32 KB of weights each): the hyper-
    // connections' 24 x 8192 F32 products were 2 chunks, 16 rows for one thread and 8 for the other.
    struct Prepared {
        const MatmulJob* job;
        kern::WView v;
        const Input* in;  // x as the kernels read it
        int64_t r0, r1, first, chunks, chunk_rows;
    };
    std::vector<Prepared> prep;
    std::vector<Input> inputs;  // one per distinct (x, layout): w1 and w3 of an expert share theirs,
                                // and in decode every routed expert the token's
    prep.reserve(jobs.size());
    inputs.reserve(jobs.size());
    int64_t total = 0, macs = 0, max_T = 0;
    for (const auto& j : jobs) {
        const Linear& W = *j.W;
        const int64_t r1 = j.row_end < 0 ? W.out : j.row_end;
        if (r1 <= j.row_begin || j.T <= 0) continue;
        const Input* in = nullptr;
        for (const Prepared& p : prep) {  // an earlier job's x in the same layout is shared
            const MatmulJob& q = *p.job;
            if (q.x == j.x && q.ldx == j.ldx && q.T == j.T && q.W->format == W.format && q.W->in == W.in &&
                q.W->block_in == W.block_in && q.x_int8 == j.x_int8) {
                in = p.in;
                break;
            }
        }
        if (!in) in = &inputs.emplace_back(input_for(ks, W, j.x, j.ldx, j.T, j.x_int8));
        const kern::WView v = view_of(W);
        const int64_t chunk_rows = j.T == 1 ? std::clamp<int64_t>((32 << 10) / std::max<int64_t>(v.row_bytes, 1), 1, 16) : 16;
        Prepared p{&j, v, in, j.row_begin, r1, total, (r1 - j.row_begin + chunk_rows - 1) / chunk_rows, chunk_rows};
        total += p.chunks;
        max_T = std::max(max_T, j.T);
        macs += (r1 - j.row_begin) * W.in * j.T;
        prep.push_back(std::move(p));
    }
    if (total == 0) return;
    const int64_t macs_per_chunk = std::max<int64_t>(1, macs / total);
    // A GEMM range packs its tokens first: at least 128 rows per range keeps that below ~2%.
    const int64_t grain = std::max<int64_t>(max_T > 1 ? 8 : 1, (int64_t(1) << 15) / macs_per_chunk);
    pool.parallel_for(
        total,
        [&](int64_t cb, int64_t ce) {
            std::vector<float> scratch;
            for (const auto& p : prep) {
                const int64_t b = std::max(cb, p.first), e = std::min(ce, p.first + p.chunks);
                if (b >= e) continue;
                const int64_t r0 = p.r0 + (b - p.first) * p.chunk_rows;
                const int64_t r1 = std::min(p.r1, p.r0 + (e - p.first) * p.chunk_rows);
                const MatmulJob& j = *p.job;
                run_rows(ks, p.v, *j.W, *p.in, j.y + (r0 - j.row_begin), j.ldy, j.T, r0, r1, scratch);
            }
        },
        grain);
}

void matmul(ThreadPool& pool, const Linear& W, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t T,
            int64_t row_begin, int64_t row_end, Isa isa) {
    const MatmulJob job{&W, x, ldx, y, ldy, T, row_begin, row_end};
    matmul_batch(pool, std::span<const MatmulJob>(&job, 1), isa);
}

void matmul(ThreadPool& pool, const Linear& W, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t T,
            int64_t row_begin, int64_t row_end) {
    matmul(pool, W, x, ldx, y, ldy, T, row_begin, row_end, best_isa());
}

void attn_dots(const float* q, int64_t ldq, int64_t H, const float* const* k, int64_t n, int64_t d, float* s,
               int64_t lds, Isa isa) {
    check_isa(isa);
    if (const kern::KernelSet* ks = kernels_for(isa)) return ks->dots(q, ldq, H, k, n, d, s, lds);
    for (int64_t h = 0; h < H; ++h)
        for (int64_t j = 0; j < n; ++j) s[h * lds + j] = dot_f32(q + h * ldq, k[j], d);
}

void attn_axpys(const float* p, int64_t ldp, int64_t H, const float* const* v, int64_t n, int64_t d, float* o,
                int64_t ldo, Isa isa) {
    check_isa(isa);
    if (const kern::KernelSet* ks = kernels_for(isa)) return ks->axpys(p, ldp, H, v, n, d, o, ldo);
    for (int64_t h = 0; h < H; ++h)
        for (int64_t j = 0; j < n; ++j) {
            const float w = p[h * ldp + j];
            for (int64_t i = 0; i < d; ++i) o[h * ldo + i] += w * v[j][i];
        }
}

void matmul_serial(const Linear& W, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t T, int64_t row_begin,
                   int64_t row_end) {
    if (row_end < 0) row_end = W.out;
    if (row_end <= row_begin || T <= 0) return;
    const kern::KernelSet* ks = kernels_for(best_isa());
    const Input in = input_for(ks, W, x, ldx, T, false);
    std::vector<float> scratch;
    run_rows(ks, view_of(W), W, in, y, ldy, T, row_begin, row_end, scratch);
}

}  // namespace dsv4
