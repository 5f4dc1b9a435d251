#include "tokenizer/bpe.h"

#include <nlohmann/json.hpp>

#include <queue>
#include <stdexcept>

namespace dsv4::tok {

namespace {
constexpr size_t kSmallWord = 48;         // up to this many symbols: linear scans beat a heap
constexpr size_t kMaxCachedPiece = 256;   // bytes; longer pieces are rare and not cached
constexpr size_t kMaxCacheEntries = 1 << 18;
}  // namespace

void BpeModel::MergeTable::init(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    keys.assign(cap, kEmpty);
    vals.assign(cap, Merge{0, 0});
    mask = cap - 1;
}

void BpeModel::MergeTable::insert(uint64_t key, Merge m) {
    uint64_t h = (key * 0x9E3779B97F4A7C15ull) >> 20 & mask;
    while (keys[h] != kEmpty && keys[h] != key) h = (h + 1) & mask;
    if (keys[h] == key) return;  // a repeated merge keeps its first (lowest) rank
    keys[h] = key;
    vals[h] = m;
}

BpeModel::BpeModel(const nlohmann::json& model, const std::string& file, const ByteLevelAlphabet& alphabet)
    : alphabet_(alphabet) {
    const std::string where = file + ": model";
    auto opt_null = [&](const char* key) {
        auto it = model.find(key);
        return it == model.end() || it->is_null() || (it->is_boolean() && !it->get<bool>());
    };
    if (!opt_null("dropout") && !(model["dropout"].is_number() && model["dropout"].get<double>() == 0.0))
        throw std::runtime_error(where + ".dropout: BPE dropout is not supported");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix", "byte_fallback"})
        if (!opt_null(key) && !(model[key].is_string() && model[key].get<std::string>().empty()))
            throw std::runtime_error(where + "." + key + ": not supported (byte-level BPE only)");
    ignore_merges_ = model.contains("ignore_merges") && model["ignore_merges"].is_boolean() &&
                     model["ignore_merges"].get<bool>();

    const auto& vocab = model.at("vocab");
    if (!vocab.is_object()) throw std::runtime_error(where + ".vocab: expected an object");
    vocab_.reserve(vocab.size());
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() > INT32_MAX)
            throw std::runtime_error(where + ".vocab[\"" + it.key() + "\"]: expected a non-negative integer id");
        int32_t id = it.value().get<int32_t>();
        vocab_.emplace(it.key(), id);
        if (size_t(id) >= id_to_token_.size()) id_to_token_.resize(size_t(id) + 1);
        id_to_token_[id] = it.key();
    }
    for (int b = 0; b < 256; ++b) {
        auto it = vocab_.find(alphabet.encode_byte(uint8_t(b)));
        byte_id_[b] = it == vocab_.end() ? -1 : it->second;  // -1: byte dropped, as HF does without unk
    }

    const auto& merges = model.at("merges");
    if (!merges.is_array()) throw std::runtime_error(where + ".merges: expected an array");
    merges_.init(merges.size());
    for (size_t r = 0; r < merges.size(); ++r) {
        const auto& m = merges[r];
        std::string a, b;
        if (m.is_string()) {
            const std::string& s = m.get_ref<const std::string&>();
            auto sp = s.find(' ');
            if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
                throw std::runtime_error(where + ".merges[" + std::to_string(r) + "]: expected \"left right\"");
            a = s.substr(0, sp);
            b = s.substr(sp + 1);
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            a = m[0].get<std::string>();
            b = m[1].get<std::string>();
        } else {
            throw std::runtime_error(where + ".merges[" + std::to_string(r) + "]: expected a string or a pair");
        }
        auto ia = vocab_.find(a), ib = vocab_.find(b), ic = vocab_.find(a + b);
        if (ia == vocab_.end() || ib == vocab_.end() || ic == vocab_.end())
            throw std::runtime_error(where + ".merges[" + std::to_string(r) + "]: token of \"" + a + " " + b +
                                     "\" is not in the vocab");
        merges_.insert(uint64_t(uint32_t(ia->second)) << 32 | uint32_t(ib->second), Merge{int32_t(r), ic->second});
    }
}

// Lowest-rank pair first, leftmost on ties; ranks of adjacent pairs are kept up to date.
void BpeModel::merge_small(std::vector<int32_t>& ids) const {
    constexpr int32_t kNone = INT32_MAX;
    int32_t rank[kSmallWord], next_id[kSmallWord];
    size_t n = ids.size();
    auto score = [&](size_t i) {
        const Merge* m = merges_.find(ids[i], ids[i + 1]);
        rank[i] = m ? m->rank : kNone;
        next_id[i] = m ? m->new_id : -1;
    };
    for (size_t i = 0; i + 1 < n; ++i) score(i);
    while (n > 1) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < n; ++i)
            if (rank[i] < rank[best]) best = i;
        if (rank[best] == kNone) break;
        ids[best] = next_id[best];
        for (size_t i = best + 1; i + 1 < n; ++i) {
            ids[i] = ids[i + 1];
            rank[i] = rank[i + 1];
            next_id[i] = next_id[i + 1];
        }
        --n;
        if (best > 0) score(best - 1);
        if (best + 1 < n) score(best);
    }
    ids.resize(n);
}

// The same algorithm for long pieces: linked symbols and a heap of candidate merges.
void BpeModel::merge_large(std::vector<int32_t>& ids) const {
    struct Sym {
        int32_t id, prev, next;
        bool alive;
    };
    struct Cand {
        int32_t rank, pos, new_id;
        bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::vector<Sym> sym(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) sym[i] = {ids[i], int32_t(i) - 1, i + 1 < ids.size() ? int32_t(i + 1) : -1, true};
    std::priority_queue<Cand, std::vector<Cand>, std::greater<>> heap;
    auto push = [&](int32_t pos) {
        if (pos < 0 || sym[pos].next < 0) return;
        if (const Merge* m = merges_.find(sym[pos].id, sym[sym[pos].next].id)) heap.push({m->rank, pos, m->new_id});
    };
    for (int32_t i = 0; i + 1 < int32_t(ids.size()); ++i) push(i);
    while (!heap.empty()) {
        Cand c = heap.top();
        heap.pop();
        Sym& s = sym[c.pos];
        if (!s.alive || s.next < 0) continue;
        const Merge* m = merges_.find(s.id, sym[s.next].id);
        if (!m || m->new_id != c.new_id || m->rank != c.rank) continue;  // stale candidate
        Sym& r = sym[s.next];
        r.alive = false;
        s.id = c.new_id;
        s.next = r.next;
        if (s.next >= 0) sym[s.next].prev = c.pos;
        push(s.prev);
        push(c.pos);
    }
    ids.clear();
    for (int32_t i = 0; i >= 0; i = sym[i].next) ids.push_back(sym[i].id);
}

void BpeModel::encode_piece(std::string_view bytes, std::vector<int32_t>& out) const {
    if (bytes.empty()) return;
    if (bytes.size() == 1) {
        if (byte_id_[uint8_t(bytes[0])] >= 0) out.push_back(byte_id_[uint8_t(bytes[0])]);
        return;
    }
    const bool cacheable = bytes.size() <= kMaxCachedPiece;
    if (cacheable) {
        std::lock_guard lock(cache_mu_);
        auto it = cache_.find(bytes);
        if (it != cache_.end()) {
            out.insert(out.end(), cache_ids_.begin() + it->second.offset,
                       cache_ids_.begin() + it->second.offset + it->second.len);
            return;
        }
    }
    std::vector<int32_t> ids;
    bool direct = false;
    if (ignore_merges_) {  // a piece that is a whole token is taken as is
        std::string key;
        alphabet_.encode(bytes, key);
        if (auto it = vocab_.find(key); it != vocab_.end()) {
            ids.push_back(it->second);
            direct = true;
        }
    }
    if (!direct) {
        ids.reserve(bytes.size());
        for (unsigned char b : bytes)
            if (byte_id_[b] >= 0) ids.push_back(byte_id_[b]);
        if (ids.size() <= kSmallWord) merge_small(ids);
        else merge_large(ids);
    }
    out.insert(out.end(), ids.begin(), ids.end());
    if (cacheable) {
        std::lock_guard lock(cache_mu_);
        if (cache_.size() >= kMaxCacheEntries) {
            cache_.clear();
            cache_ids_.clear();
        }
        cache_.emplace(std::string(bytes), CacheEntry{uint32_t(cache_ids_.size()), uint32_t(ids.size())});
        cache_ids_.insert(cache_ids_.end(), ids.begin(), ids.end());
    }
}

}  // namespace dsv4::tok
