// KV compressors (dsv4-model.md "Compressed entries"). HCA: one entry per complete window of m
// tokens. CSA (coff = 2): a token's first `dim` channels (Ca) belong to the NEXT window, the last
// `dim` (Cb) to its own; entry w softmaxes the m Ca slots of window w-1 with the m Cb slots of w.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/matmul.h"
#include "model/model.h"
#include "model/ops.h"

namespace dsv4 {

void compressor_forward(ThreadPool& pool, const ModelConfig& c, const CompressorWeights& w, const Rope& rope,
                        const float* x, int64_t T, int64_t pos0, CompressorState& st, bool indexer) {
    const int64_t m = w.ratio, dim = w.dim, cd = w.coff * dim;
    // Buffered tokens continue where they left off: window slots are absolute positions mod m.
    // The new rows are appended to the buffer in place (decode: one row, no copy of the rest).
    const int64_t total = st.buffered + T;
    std::vector<float>& kv = st.buf_kv;
    std::vector<float>& gate = st.buf_gate;
    kv.resize(size_t(total * cd));
    gate.resize(size_t(total * cd));
    const MatmulJob proj[] = {{&w.wkv, x, w.wkv.in, kv.data() + st.buffered * cd, cd, T},
                              {&w.wgate, x, w.wgate.in, gate.data() + st.buffered * cd, cd, T}};
    matmul_batch(pool, proj);  // one pass of the pool for both
    for (int64_t t = 0; t < T; ++t) {
        const float* ape = w.ape.data() + ((pos0 + t) % m) * cd;
        float* g = gate.data() + (st.buffered + t) * cd;
        for (int64_t i = 0; i < cd; ++i) g[i] += ape[i];
    }

    const int64_t windows = total / m;
    std::vector<float> entry(static_cast<size_t>(dim)), wts(size_t(2 * m));
    for (int64_t wi = 0; wi < windows; ++wi) {
        const float* wkv = kv.data() + wi * m * cd;
        const float* wg = gate.data() + wi * m * cd;
        const int64_t cur_off = w.coff == 2 ? dim : 0;  // Cb half for CSA
        const bool use_prev = w.coff == 2 && st.has_prev;
        for (int64_t ch = 0; ch < dim; ++ch) {
            // softmax over the slots of this channel
            float mx = -INFINITY;
            if (use_prev)
                for (int64_t j = 0; j < m; ++j) mx = std::max(mx, st.prev_gate[size_t(j * dim + ch)]);
            for (int64_t j = 0; j < m; ++j) mx = std::max(mx, wg[j * cd + cur_off + ch]);
            float sum = 0, acc = 0;
            if (use_prev)
                for (int64_t j = 0; j < m; ++j) {
                    float e = std::exp(st.prev_gate[size_t(j * dim + ch)] - mx);
                    sum += e;
                    acc += e * st.prev_kv[size_t(j * dim + ch)];
                }
            for (int64_t j = 0; j < m; ++j) {
                float e = std::exp(wg[j * cd + cur_off + ch] - mx);
                sum += e;
                acc += e * wkv[j * cd + cur_off + ch];
            }
            entry[size_t(ch)] = acc / sum;
        }
        if (w.coff == 2) {  // keep this window's Ca half for the next entry
            st.prev_kv.resize(size_t(m * dim));
            st.prev_gate.resize(size_t(m * dim));
            for (int64_t j = 0; j < m; ++j)
                for (int64_t ch = 0; ch < dim; ++ch) {
                    st.prev_kv[size_t(j * dim + ch)] = wkv[j * cd + ch];
                    st.prev_gate[size_t(j * dim + ch)] = wg[j * cd + ch];
                }
            st.has_prev = true;
        }
        const int64_t widx = st.n_entries;
        st.entries.resize(size_t((widx + 1) * dim));
        float* e = st.entries.data() + widx * dim;
        ops::round_bf16(c, entry.data(), dim);  // official: the pooled entry is stored bf16 before its norm
        ops::rms_norm(entry.data(), w.norm.data(), e, dim, c.rms_norm_eps);
        ops::round_bf16(c, e, dim);
        rope.apply(e, dim, widx * m);
        ops::round_bf16(c, e, dim);
        if (indexer) ops::round_index_vector(c, e, dim);
        else ops::round_kv(c, e, dim);
        st.n_entries++;
    }
    // Keep the unfinished window.
    st.buffered = total - windows * m;
    kv.erase(kv.begin(), kv.begin() + windows * m * cd);
    gate.erase(gate.begin(), gate.begin() + windows * m * cd);
}

}  // namespace dsv4
