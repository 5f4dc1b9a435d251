// The generation loop shared by `dsv4 generate` and `dsv4 run`: the prompt goes through the cache
// in chunks (activations stay bounded for long prompts), then each sampled token is handed to the
// caller and fed back, until max_new tokens or an end-of-sequence token.
#pragma once
#include <cstdint>
#include <functional>
#include <span>

#include "model/model.h"
#include "runtime/sampler.h"

namespace dsv4 {

struct GenerateOptions {
    int64_t max_new = 128;
    int64_t prefill_chunk = 2048;
    bool ignore_eos = false;  // keep going past the config's eos_token_ids
};

// on_token(token, is_eos) for every sampled token (an end-of-sequence one too, then the loop
// stops). Returns how many tokens were sampled.
int64_t generate(Model& model, SequenceState& st, std::span<const int32_t> prompt, Sampler& sampler,
                 const GenerateOptions& opt, const std::function<void(int32_t token, bool is_eos)>& on_token);

}  // namespace dsv4
