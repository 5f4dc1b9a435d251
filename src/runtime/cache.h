// Per-sequence incremental state (dsv4-model.md "Compressed entries", last paragraph): what a
// sequence must keep so that prefill in chunks + decode gives the same numbers as one pass.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/cpu/aligned.h"

namespace dsv4 {

struct CompressorState {
    int64_t buffered = 0;              // tokens of the unfinished window
    std::vector<float> buf_kv, buf_gate;  // [buffered, coff*dim]; gate already has ape added
    bool has_prev = false;             // CSA: Ca half of the last finished window is kept
    std::vector<float> prev_kv, prev_gate;  // [m, dim]
    int64_t n_entries = 0;             // emitted entries; entry w covers tokens [w*m, (w+1)*m)
    avector<float> entries;            // [n_entries, dim], normed and rotated (64-byte aligned)

    size_t bytes() const {
        return 4 * (buf_kv.capacity() + buf_gate.capacity() + prev_kv.capacity() + prev_gate.capacity() +
                    entries.capacity());
    }
};

struct LayerState {
    int64_t window_count = 0;  // kv rows held: the last min(pos, W-1) positions
    avector<float> window;  // ring of [W-1, head_dim] rotated kv rows, position p at row p mod (W-1)
    CompressorState compressor, indexer;
};

struct SequenceState {
    int64_t pos = 0;  // tokens consumed so far
    std::vector<LayerState> layers;

    size_t bytes() const {
        size_t b = 0;
        for (auto& l : layers) b += 4 * l.window.capacity() + l.compressor.bytes() + l.indexer.bytes();
        return b;
    }
};

}  // namespace dsv4
