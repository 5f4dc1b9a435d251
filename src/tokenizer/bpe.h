// The BPE model of tokenizer.json ("model": {"type": "BPE", "vocab", "merges"}) for
// byte-level vocabularies: a piece of raw bytes starts as one symbol per byte (its
// byte-level character) and adjacent symbols are merged, lowest merge rank first
// (leftmost on ties), as HF's BPE does without dropout.
#pragma once
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/byte_level.h"

namespace dsv4::tok {

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
public:
    // Reads model.vocab and model.merges; throws naming `file` on anything unsupported.
    BpeModel(const nlohmann::json& model, const std::string& file, const ByteLevelAlphabet& alphabet);
    BpeModel(BpeModel&&) = delete;

    // Appends the ids of one pre-tokenized piece (raw bytes) to out.
    void encode_piece(std::string_view bytes, std::vector<int32_t>& out) const;

    const TokenMap& vocab() const { return vocab_; }
    // Token string of an id, or nullptr if the id is not in the vocab.
    const std::string* id_to_token(int32_t id) const {
        return id >= 0 && size_t(id) < id_to_token_.size() && !id_to_token_[id].empty() ? &id_to_token_[id] : nullptr;
    }
    size_t max_id_plus_one() const { return id_to_token_.size(); }

private:
    struct Merge {
        int32_t rank, new_id;
    };
    // Open-addressing table: (left id, right id) -> merge.
    struct MergeTable {
        std::vector<uint64_t> keys;
        std::vector<Merge> vals;
        uint64_t mask = 0;
        static constexpr uint64_t kEmpty = ~uint64_t(0);
        void init(size_t n);
        void insert(uint64_t key, Merge m);
        const Merge* find(uint64_t key) const {
            uint64_t h = (key * 0x9E3779B97F4A7C15ull) >> 20 & mask;
            while (true) {
                uint64_t k = keys[h];
                if (k == key) return &vals[h];
                if (k == kEmpty) return nullptr;
                h = (h + 1) & mask;
            }
        }
        const Merge* find(int32_t a, int32_t b) const { return find(uint64_t(uint32_t(a)) << 32 | uint32_t(b)); }
    };

    void merge_small(std::vector<int32_t>& ids) const;
    void merge_large(std::vector<int32_t>& ids) const;

    TokenMap vocab_;
    std::vector<std::string> id_to_token_;
    std::array<int32_t, 256> byte_id_{};
    MergeTable merges_;
    bool ignore_merges_ = false;
    ByteLevelAlphabet alphabet_;

    // Cache of already-encoded pieces (raw bytes -> ids), shared by all callers.
    struct CacheEntry {
        uint32_t offset, len;
    };
    mutable std::mutex cache_mu_;
    mutable std::unordered_map<std::string, CacheEntry, StringHash, std::equal_to<>> cache_;
    mutable std::vector<int32_t> cache_ids_;
};

}  // namespace dsv4::tok
