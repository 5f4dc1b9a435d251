// config.json of a DeepSeek-V4 checkpoint, in either form (dsv4-model.md "Compressed entries"):
// official hub keys (compress_ratios, num_hash_layers, qk_rope_head_dim, rope_scaling) or
// transformers keys (layer_types, compress_rates, mlp_layer_types, rope_parameters).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace dsv4 {

enum class AttnType { Sliding, CSA, HCA };
const char* attn_type_name(AttnType t);

struct YarnParams {
    bool enabled = false;
    double factor = 1.0;
    double original_max_position_embeddings = 0;
    double beta_fast = 32, beta_slow = 1;
    bool truncate = true;  // floor/ceil the correction range
};

// How the forward pass rounds (dsv4-model.md "Official numerics"): fp32 on exactly dequantized
// weights (the default, what transformers computes), or DeepSeek's own bf16/FP8/FP4 roundings.
// FP32: exact (stored weights dequantized exactly, fp32 math). Official: DeepSeek's bf16/FP8
// roundings (dsv4-model.md "Official numerics"). Int8: FP32 except that MXFP4 experts running on a
// single token (decode) read its activations rounded to int8 per 32 columns (kernels/cpu/matmul.h,
// MatmulJob::x_int8): faster where decoding FP4 to fp32 is the bottleneck, not exact.
enum class Numerics { FP32, Official, Int8 };
const char* numerics_name(Numerics n);
Numerics parse_numerics(const std::string& s);

struct LayerSpec {
    AttnType attn = AttnType::Sliding;
    int compress_ratio = 0;  // m: 0 for sliding-only layers
    bool hash_moe = false;   // experts chosen by gate.tid2eid[token]
};

struct ModelConfig {
    std::string source;  // path, for messages
    int64_t vocab_size = 0, hidden_size = 0, num_hidden_layers = 0;
    int64_t num_attention_heads = 0, head_dim = 0, rope_dim = 0;
    int64_t q_lora_rank = 0, o_groups = 0, o_lora_rank = 0;
    int64_t n_routed_experts = 0, num_experts_per_tok = 0, n_shared_experts = 0, moe_intermediate_size = 0;
    double routed_scaling_factor = 1.0, swiglu_limit = 0.0;  // 0: no clamp
    bool norm_topk_prob = true;
    int64_t sliding_window = 0;
    int64_t index_n_heads = 0, index_head_dim = 0, index_topk = 0;
    int64_t hc_mult = 1, hc_sinkhorn_iters = 1;
    double hc_eps = 1e-6, rms_norm_eps = 1e-6;
    double rope_theta = 10000.0, compress_rope_theta = 10000.0;
    YarnParams yarn;  // applies to the compressed (CSA/HCA) layers' RoPE
    int64_t max_position_embeddings = 0;
    int64_t num_nextn_predict_layers = 0;
    int64_t bos_token_id = -1;
    std::vector<int64_t> eos_token_ids;
    bool tie_word_embeddings = false;
    std::string expert_dtype;  // "", "fp4", "fp8"
    bool fp8_quantized = false;  // quantization_config present
    std::vector<LayerSpec> layers;
    Numerics numerics = Numerics::FP32;  // a run-time choice, not read from config.json

    // Parses and checks for contradictions; throws std::runtime_error "<path>: field: problem".
    static ModelConfig from_json(const nlohmann::json& j, const std::string& source);
    static ModelConfig from_file(const std::string& path);
    bool has_compressed_layers() const;
};

}  // namespace dsv4
