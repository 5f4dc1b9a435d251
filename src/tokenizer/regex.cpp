#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"
#include "tokenizer/unicode_additions.h"

#include <pcre2.h>

#include <stdexcept>

namespace dsv4::tok {

struct Regex::Code {
    pcre2_code* code = nullptr;
    bool jit = false;
    ~Code() { pcre2_code_free(code); }
};

namespace {
struct MatchData {
    pcre2_match_data* md;
    explicit MatchData(const pcre2_code* c) : md(pcre2_match_data_create_from_pattern(c, nullptr)) {
        if (!md) throw std::bad_alloc();
    }
    ~MatchData() { pcre2_match_data_free(md); }
    MatchData(const MatchData&) = delete;
    MatchData& operator=(const MatchData&) = delete;
};

std::string pcre2_message(int rc) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(rc, buf, sizeof buf);
    return reinterpret_cast<const char*>(buf);
}

// One match attempt; falls back from JIT to the interpreter when the JIT stack is too small
// (very long runs of whitespace with the lookahead can need deep backtracking).
int match(const Regex::Code& c, std::string_view text, size_t start, uint32_t opts, pcre2_match_data* md) {
    auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    int rc;
    if (c.jit) {
        rc = pcre2_jit_match(c.code, subject, text.size(), start, opts, md, nullptr);
        if (rc != PCRE2_ERROR_JIT_STACKLIMIT) return rc;
    }
    return pcre2_match(c.code, subject, text.size(), start, opts | PCRE2_NO_JIT, md, nullptr);
}
}  // namespace

Regex::Regex(const std::string& pattern, bool literal, const std::string& what) : code_(std::make_unique<Code>()) {
    int err = 0;
    PCRE2_SIZE off = 0;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | (literal ? PCRE2_LITERAL : 0);
    std::string p = literal ? pattern : onig_to_pcre2(pattern);
    code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(), opts, &err, &off, nullptr);
    if (!code_->code)
        throw std::runtime_error(what + ": cannot compile regex '" + pattern + "' at offset " + std::to_string(off) +
                                 ": " + pcre2_message(err));
    code_->jit = pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

Regex::Scratch::Scratch(const Regex& re)
    : data_(pcre2_match_data_create_from_pattern(re.code_->code, nullptr),
            [](void* p) { pcre2_match_data_free(static_cast<pcre2_match_data*>(p)); }) {
    if (!data_) throw std::bad_alloc();
}

void Regex::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out, Scratch& scratch) const {
    struct {
        pcre2_match_data* md;
    } m{static_cast<pcre2_match_data*>(scratch.data_.get())};
    size_t pos = 0;
    while (pos <= text.size()) {
        int rc = match(*code_, text, pos, 0, m.md);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) throw std::runtime_error("regex match failed: " + pcre2_message(rc));
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(m.md);
        size_t s = ov[0], e = ov[1];
        if (e > s) {
            out.emplace_back(s, e);
            pos = e;
        } else {
            // Empty match: yields nothing, step over one character.
            if (s >= text.size()) break;
            pos = s + 1;
            while (pos < text.size() && (uint8_t(text[pos]) & 0xC0) == 0x80) ++pos;
        }
    }
}

bool Regex::matches_at(std::string_view text, size_t pos) const {
    MatchData m(code_->code);
    return match(*code_, text, pos, PCRE2_ANCHORED, m.md) > 0;
}

namespace {
// Code points a general category gains from Unicode 14.0 (PCRE2 10.42) to 16.0 (Oniguruma).
const char* category_additions(char c) {
    namespace ua = unicode_additions;
    switch (c) {
        case 'L': return ua::kL;
        case 'M': return ua::kM;
        case 'N': return ua::kN;
        case 'P': return ua::kP;
        case 'S': return ua::kS;
        default: return nullptr;
    }
}
}  // namespace

std::string onig_to_pcre2(const std::string& p) {
    std::string out;
    out.reserve(p.size() + 64);
    bool in_class = false;
    for (size_t i = 0; i < p.size(); ++i) {
        char c = p[i];
        if (c == '\\' && i + 1 < p.size()) {
            char n = p[i + 1];
            ++i;
            if (n == 's') {
                out += in_class ? std::string(unicode_additions::kSpace) : "[" + std::string(unicode_additions::kSpace) + "]";
                continue;
            }
            if (n == 'S' && !in_class) {
                out += "[^" + std::string(unicode_additions::kSpace) + "]";
                continue;
            }
            if (n == 'p' || n == 'P') {
                // \p{X} or \pX with X one of the five general categories (one letter).
                char cat = 0;
                size_t len = 0;
                if (i + 1 < p.size() && p[i + 1] != '{') { cat = p[i + 1]; len = 1; }
                else if (i + 3 < p.size() && p[i + 1] == '{' && p[i + 3] == '}') { cat = p[i + 2]; len = 3; }
                const char* add = category_additions(cat);
                if (add && (n == 'p' || !in_class)) {
                    std::string cls = std::string("\\p{") + cat + "}" + add;
                    if (in_class) out += cls;
                    else out += (n == 'p' ? "[" : "[^") + cls + "]";
                    i += len;
                    continue;
                }
            }
            out += '\\';
            out += n;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
            out += c;
            // A ']' right after '[' or '[^' is a literal member.
            if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
            if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
            continue;
        }
        if (c == ']' && in_class) in_class = false;
        out += c;
    }
    return out;
}

}  // namespace dsv4::tok
