#include "tokenizer/pretokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>

#include "tokenizer/regex.h"

namespace dsv4::tok {

namespace {

using Ranges = std::vector<std::pair<size_t, size_t>>;

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// HF's Split: cuts each piece around the matches of a pattern, then keeps/merges the
// matches according to the behavior. Empty pieces are dropped.
class Split final : public PreTokenizer {
public:
    Split(Regex re, Behavior b, bool invert) : re_(std::move(re)), behavior_(b), invert_(invert) {}

    void split(const std::vector<std::string_view>& in, std::vector<std::string_view>& out,
               std::deque<std::string>&) const override {
        Ranges matches;
        std::vector<std::pair<std::pair<size_t, size_t>, bool>> parts, merged;
        Regex::Scratch scratch(re_);
        for (std::string_view s : in) {
            matches.clear();
            re_.find_all(s, matches, scratch);
            if (behavior_ == Behavior::Isolated) {  // the hot path: no flags needed
                size_t prev = 0;
                for (auto [b, e] : matches) {
                    if (b > prev) out.push_back(s.substr(prev, b - prev));
                    out.push_back(s.substr(b, e - b));
                    prev = e;
                }
                if (prev < s.size()) out.push_back(s.substr(prev));
                continue;
            }
            // (offsets, is_match) covering the whole piece, as HF's Pattern::find_matches.
            parts.clear();
            size_t prev = 0;
            for (auto [b, e] : matches) {
                if (b > prev) parts.push_back({{prev, b}, invert_});
                parts.push_back({{b, e}, !invert_});
                prev = e;
            }
            if (prev < s.size() || s.empty()) parts.push_back({{prev, s.size()}, invert_});
            merged.clear();
            bool previous_match = false;
            switch (behavior_) {
                case Behavior::Removed:
                    for (auto& p : parts)
                        if (!p.second) merged.push_back(p);
                    break;
                case Behavior::MergedWithPrevious:
                    for (auto& p : parts) {
                        if (p.second && !previous_match && !merged.empty()) merged.back().first.second = p.first.second;
                        else merged.push_back(p);
                        previous_match = p.second;
                    }
                    break;
                case Behavior::MergedWithNext:
                    for (size_t i = parts.size(); i-- > 0;) {
                        auto& p = parts[i];
                        if (p.second && !previous_match && !merged.empty()) merged.back().first.first = p.first.first;
                        else merged.push_back(p);
                        previous_match = p.second;
                    }
                    std::reverse(merged.begin(), merged.end());
                    break;
                case Behavior::Contiguous:
                    for (auto& p : parts) {
                        if (p.second == previous_match && !merged.empty()) merged.back().first.second = p.first.second;
                        else merged.push_back(p);
                        previous_match = p.second;
                    }
                    break;
                case Behavior::Isolated:
                    break;
            }
            for (auto& p : merged)
                if (p.first.second > p.first.first) out.push_back(s.substr(p.first.first, p.first.second - p.first.first));
        }
    }

private:
    Regex re_;
    Behavior behavior_;
    bool invert_;
};

// The GPT-2 pattern that ByteLevel applies when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// ByteLevel as a pre-tokenizer: optional prefix space, optional GPT-2 split. The byte ->
// alphabet mapping itself is done by the BPE stage (it works on raw bytes).
class ByteLevel final : public PreTokenizer {
public:
    ByteLevel(bool add_prefix_space, std::unique_ptr<Split> re) : add_prefix_space_(add_prefix_space), re_(std::move(re)) {}

    void split(const std::vector<std::string_view>& in, std::vector<std::string_view>& out,
               std::deque<std::string>& arena) const override {
        std::vector<std::string_view> tmp;
        const std::vector<std::string_view>* src = &in;
        if (add_prefix_space_) {
            tmp.reserve(in.size());
            for (std::string_view s : in) {
                if (!s.empty() && s[0] != ' ') {
                    std::string& p = arena.emplace_back();
                    p.reserve(s.size() + 1);
                    p += ' ';
                    p += s;
                    tmp.push_back(p);
                } else {
                    tmp.push_back(s);
                }
            }
            src = &tmp;
        }
        if (re_) re_->split(*src, out, arena);
        else out.insert(out.end(), src->begin(), src->end());
    }

private:
    bool add_prefix_space_;
    std::unique_ptr<Split> re_;
};

class Sequence final : public PreTokenizer {
public:
    explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> s) : stages_(std::move(s)) {}
    void split(const std::vector<std::string_view>& in, std::vector<std::string_view>& out,
               std::deque<std::string>& arena) const override {
        if (stages_.empty()) {
            out.insert(out.end(), in.begin(), in.end());
            return;
        }
        std::vector<std::string_view> a(in), b;
        for (size_t i = 0; i < stages_.size(); ++i) {
            auto& dst = i + 1 == stages_.size() ? out : b;
            if (&dst == &b) b.clear();
            stages_[i]->split(a, dst, arena);
            if (&dst == &b) std::swap(a, b);
        }
    }

private:
    std::vector<std::unique_ptr<PreTokenizer>> stages_;
};

Behavior parse_behavior(const std::string& s, const std::string& where) {
    if (s == "Removed") return Behavior::Removed;
    if (s == "Isolated") return Behavior::Isolated;
    if (s == "MergedWithPrevious") return Behavior::MergedWithPrevious;
    if (s == "MergedWithNext") return Behavior::MergedWithNext;
    if (s == "Contiguous") return Behavior::Contiguous;
    throw std::runtime_error(where + ": unsupported Split behavior '" + s + "'");
}

bool get_bool(const nlohmann::json& j, const char* key, bool def) {
    auto it = j.find(key);
    return it == j.end() || it->is_null() ? def : it->get<bool>();
}

std::unique_ptr<PreTokenizer> make(const nlohmann::json& j, const std::string& where) {
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
        throw std::runtime_error(where + ": expected an object with a string \"type\"");
    std::string type = j["type"].get<std::string>();
    if (type == "Sequence") {
        std::vector<std::unique_ptr<PreTokenizer>> stages;
        const auto& list = j.at("pretokenizers");
        for (size_t i = 0; i < list.size(); ++i)
            stages.push_back(make(list[i], where + ".pretokenizers[" + std::to_string(i) + "]"));
        return std::make_unique<Sequence>(std::move(stages));
    }
    if (type == "Split") {
        const auto& pat = j.at("pattern");
        bool literal;
        std::string p;
        if (pat.contains("Regex")) {
            literal = false;
            p = pat["Regex"].get<std::string>();
        } else if (pat.contains("String")) {
            literal = true;
            p = pat["String"].get<std::string>();
        } else {
            throw std::runtime_error(where + ".pattern: expected \"Regex\" or \"String\"");
        }
        return std::make_unique<Split>(Regex(p, literal, where + ".pattern"),
                                       parse_behavior(j.at("behavior").get<std::string>(), where + ".behavior"),
                                       get_bool(j, "invert", false));
    }
    if (type == "ByteLevel") {
        std::unique_ptr<Split> re;
        if (get_bool(j, "use_regex", true))
            re = std::make_unique<Split>(Regex(kGpt2Pattern, false, where), Behavior::Isolated, false);
        return std::make_unique<ByteLevel>(get_bool(j, "add_prefix_space", true), std::move(re));
    }
    throw std::runtime_error(where + ": unsupported pre-tokenizer type '" + type + "'");
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, const std::string& file) {
    if (j.is_null()) return nullptr;
    try {
        return make(j, file + ": pre_tokenizer");
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(file + ": pre_tokenizer: " + e.what());
    }
}

void pre_tokenize(const PreTokenizer* pt, std::string_view text, PieceBuffer& buf) {
    buf.pieces.clear();
    if (!pt) {
        if (!text.empty()) buf.pieces.push_back(text);
        return;
    }
    std::vector<std::string_view> in{text};
    pt->split(in, buf.pieces, buf.arena);
}

}  // namespace dsv4::tok
