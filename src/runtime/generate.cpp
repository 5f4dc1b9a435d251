#include "runtime/generate.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace dsv4 {

int64_t generate(Model& model, SequenceState& st, std::span<const int32_t> prompt, Sampler& sampler,
                 const GenerateOptions& opt, const std::function<void(int32_t, bool)>& on_token) {
    if (opt.prefill_chunk <= 0) throw std::invalid_argument("prefill chunk must be positive");
    if (opt.max_new <= 0) return 0;
    if (prompt.empty()) throw std::invalid_argument("the prompt is empty");
    std::vector<float> logits;
    ForwardOptions last_only;
    last_only.all_logits = false;
    for (size_t off = 0; off < prompt.size(); off += size_t(opt.prefill_chunk)) {
        const size_t n = std::min(prompt.size() - off, size_t(opt.prefill_chunk));
        model.forward(st, prompt.subspan(off, n), logits, last_only);
    }
    const auto& eos = model.config().eos_token_ids;
    for (int64_t i = 0; i < opt.max_new; ++i) {
        const int32_t next = sampler.sample(logits);
        const bool is_eos = !opt.ignore_eos && std::find(eos.begin(), eos.end(), next) != eos.end();
        on_token(next, is_eos);
        if (is_eos || i + 1 == opt.max_new) return i + 1;
        model.forward(st, std::span<const int32_t>(&next, 1), logits, last_only);
    }
    return opt.max_new;
}

}  // namespace dsv4
