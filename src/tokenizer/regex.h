// Thin RAII wrapper over PCRE2 (UTF + Unicode properties, JIT-compiled) for the
// Split pre-tokenizers. Matching is const and thread-safe: match data is per call.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dsv4::tok {

class Regex {
public:
    // `what` names the pattern's origin in error messages (file and field).
    Regex(const std::string& pattern, bool literal, const std::string& what);
    ~Regex();
    Regex(Regex&&) noexcept;
    Regex& operator=(Regex&&) noexcept;

    // Per-caller match state; reuse one across calls to avoid an allocation per call.
    class Scratch {
    public:
        explicit Scratch(const Regex& re);

    private:
        friend class Regex;
        std::unique_ptr<void, void (*)(void*)> data_;  // pcre2_match_data
    };

    // All non-overlapping, non-empty matches in `text`, as [start, end) byte offsets, appended to out.
    void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out, Scratch& scratch) const;
    void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
        Scratch s(*this);
        find_all(text, out, s);
    }
    // Whether the pattern matches at exactly `pos` (anchored).
    bool matches_at(std::string_view text, size_t pos) const;

    struct Code;  // the compiled pattern (opaque)

private:
    std::unique_ptr<Code> code_;
};

// HF tokenizers matches with Oniguruma (Unicode 16.0); the system PCRE2 may know an older
// Unicode. Rewrites \s, \S (Oniguruma: White_Space; PCRE2 also matches U+180E) and
// \p{L|M|N|P|S} (adds the newer code points) so both match the same characters.
std::string onig_to_pcre2(const std::string& pattern);

}  // namespace dsv4::tok
