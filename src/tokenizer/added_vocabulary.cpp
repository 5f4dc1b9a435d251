#include "tokenizer/added_vocabulary.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace dsv4::tok {

uint32_t AddedTokenMatcher::child(uint32_t n, uint8_t b) const {
    const auto& nx = nodes_[n].next;
    auto it = std::lower_bound(nx.begin(), nx.end(), std::pair<uint8_t, uint32_t>{b, 0});
    return it != nx.end() && it->first == b ? it->second : 0;
}

void AddedTokenMatcher::add(const AddedToken* t) {
    if (t->content.empty()) return;
    uint32_t n = 0;
    for (unsigned char b : t->content) {
        uint32_t c = child(n, b);
        if (!c) {
            c = uint32_t(nodes_.size());
            auto& nx = nodes_[n].next;
            nx.insert(std::lower_bound(nx.begin(), nx.end(), std::pair<uint8_t, uint32_t>{b, 0}), {b, c});
            nodes_.emplace_back();
        }
        n = c;
    }
    // The first token listed for a content wins (HF keeps one id per content).
    if (!nodes_[n].token) nodes_[n].token = t;
    first_byte_[uint8_t(t->content[0])] = true;
}

void AddedTokenMatcher::split(std::string_view text, size_t begin, size_t end, std::vector<Split>& out) const {
    size_t start_offset = begin;  // end of the previous split
    size_t i = begin;
    while (i < end) {
        if (!first_byte_[uint8_t(text[i])]) {
            ++i;
            continue;
        }
        // Longest token starting at i.
        const AddedToken* best = nullptr;
        size_t best_end = 0;
        uint32_t n = 0;
        for (size_t j = i; j < end; ++j) {
            n = child(n, uint8_t(text[j]));
            if (!n) break;
            if (nodes_[n].token) {
                best = nodes_[n].token;
                best_end = j + 1;
            }
        }
        if (!best) {
            ++i;
            continue;
        }
        size_t start = i, stop = best_end;
        std::string_view slice = text.substr(begin, end - begin);
        if (best->single_word) {
            bool start_space = start == begin || !ends_with_word_char(slice.substr(0, start - begin));
            bool stop_space = stop == end || !starts_with_word_char(slice.substr(stop - begin));
            if (!start_space || !stop_space) {
                i = stop;  // the matcher resumes after the rejected match, as aho-corasick does
                continue;
            }
        }
        if (best->lstrip) start = std::max(start_offset, begin + trim_trailing_whitespace(slice.substr(0, start - begin)));
        if (best->rstrip) stop += skip_leading_whitespace(slice.substr(stop - begin));
        if (start < start_offset) start = start_offset;  // never eat into the previous split
        if (start_offset < start) out.push_back({start_offset, start, nullptr});
        out.push_back({start, stop, best});
        start_offset = stop;
        i = std::max(stop, i + 1);
    }
    if (start_offset < end) out.push_back({start_offset, end, nullptr});
}

}  // namespace dsv4::tok
