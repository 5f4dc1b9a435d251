#include "io/config.h"

#include "io/json_file.h"

#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace dsv4 {

using json = nlohmann::json;

const char* attn_type_name(AttnType t) {
    switch (t) {
        case AttnType::Sliding: return "sliding_attention";
        case AttnType::CSA: return "compressed_sparse_attention";
        case AttnType::HCA: return "heavily_compressed_attention";
    }
    return "?";
}

const char* numerics_name(Numerics n) {
    switch (n) {
        case Numerics::FP32: return "fp32";
        case Numerics::Official: return "official";
        case Numerics::Int8: return "int8";
    }
    return "?";
}

Numerics parse_numerics(const std::string& s) {
    if (s == "fp32") return Numerics::FP32;
    if (s == "official") return Numerics::Official;
    if (s == "int8") return Numerics::Int8;
    throw std::invalid_argument("--numerics must be fp32, official or int8, got '" + s + "'");
}

namespace {

struct Reader {
    const json& j;
    const std::string& src;

    std::runtime_error err(const std::string& field, const std::string& what) const {
        return std::runtime_error(src + ": field '" + field + "': " + what);
    }
    bool has(const char* k) const { return j.contains(k) && !j[k].is_null(); }
    int64_t integer(const char* k, std::optional<int64_t> def = std::nullopt) const {
        if (!has(k)) {
            if (def) return *def;
            throw err(k, "missing");
        }
        const auto& v = j[k];
        if (v.is_number_integer()) return v.get<int64_t>();
        if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() && std::fabs(v.get<double>()) < 9e15)
            return int64_t(v.get<double>());
        throw err(k, "expected an integer, got " + v.dump());
    }
    double number(const char* k, std::optional<double> def = std::nullopt) const {
        if (!has(k)) {
            if (def) return *def;
            throw err(k, "missing");
        }
        if (!j[k].is_number()) throw err(k, "expected a number, got " + j[k].dump());
        return j[k].get<double>();
    }
    bool boolean(const char* k, bool def) const {
        if (!has(k)) return def;
        if (!j[k].is_boolean()) throw err(k, "expected true or false, got " + j[k].dump());
        return j[k].get<bool>();
    }
    std::string string(const char* k, const std::string& def) const {
        if (!has(k)) return def;
        if (!j[k].is_string()) throw err(k, "expected a string, got " + j[k].dump());
        return j[k].get<std::string>();
    }
};

double num_in(const json& obj, const char* k, const std::string& field, const std::string& src, double def,
              bool required = false) {
    if (!obj.contains(k) || obj[k].is_null()) {
        if (required) throw std::runtime_error(src + ": field '" + field + "." + k + "': missing");
        return def;
    }
    if (!obj[k].is_number()) throw std::runtime_error(src + ": field '" + field + "." + k + "': expected a number");
    return obj[k].get<double>();
}

// obj[k] (or obj[alt]) as a string, `def` when absent.
std::string str_in(const json& obj, const char* k, const char* alt, const std::string& field, const std::string& src,
                   const std::string& def) {
    for (const char* key : {k, alt}) {
        if (!key || !obj.contains(key) || obj[key].is_null()) continue;
        if (!obj[key].is_string())
            throw std::runtime_error(src + ": field '" + field + "." + key + "': expected a string, got " + obj[key].dump());
        return obj[key].get<std::string>();
    }
    return def;
}

AttnType parse_layer_type(const std::string& s, const std::string& src, size_t i) {
    if (s == "sliding_attention") return AttnType::Sliding;
    if (s == "compressed_sparse_attention") return AttnType::CSA;
    if (s == "heavily_compressed_attention") return AttnType::HCA;
    throw std::runtime_error(src + ": field 'layer_types[" + std::to_string(i) + "]': unknown layer type '" + s + "'");
}

}  // namespace

bool ModelConfig::has_compressed_layers() const {
    for (auto& l : layers)
        if (l.attn != AttnType::Sliding) return true;
    return false;
}

static ModelConfig parse_config(const json& j, const std::string& src);

ModelConfig ModelConfig::from_json(const json& j, const std::string& src) {
    try {
        return parse_config(j, src);
    } catch (const json::exception& e) {  // a type the checks above did not foresee
        throw std::runtime_error(src + ": unexpected value type: " + e.what());
    }
}

static ModelConfig parse_config(const json& j, const std::string& src) {
    if (!j.is_object()) throw std::runtime_error(src + ": config is not a JSON object");
    Reader r{j, src};
    ModelConfig c;
    c.source = src;
    if (r.has("model_type") && r.string("model_type", "") != "deepseek_v4")
        throw r.err("model_type", "'" + r.string("model_type", "") + "' is not a DeepSeek-V4 model (expected deepseek_v4)");
    c.vocab_size = r.integer("vocab_size");
    c.hidden_size = r.integer("hidden_size");
    c.num_hidden_layers = r.integer("num_hidden_layers");
    c.num_attention_heads = r.integer("num_attention_heads");
    c.head_dim = r.integer("head_dim");
    int64_t kv_heads = r.integer("num_key_value_heads", 1);
    if (kv_heads != 1) throw r.err("num_key_value_heads", "DeepSeek-V4 attention has one shared KV head, got " + std::to_string(kv_heads));
    c.q_lora_rank = r.integer("q_lora_rank");
    c.o_groups = r.integer("o_groups");
    c.o_lora_rank = r.integer("o_lora_rank");
    c.n_routed_experts = r.integer("n_routed_experts");
    c.num_experts_per_tok = r.integer("num_experts_per_tok");
    c.n_shared_experts = r.integer("n_shared_experts", 1);
    c.moe_intermediate_size = r.integer("moe_intermediate_size");
    c.routed_scaling_factor = r.number("routed_scaling_factor", 1.0);
    c.swiglu_limit = r.number("swiglu_limit", 0.0);
    c.norm_topk_prob = r.boolean("norm_topk_prob", true);
    std::string scoring = r.string("scoring_func", "sqrtsoftplus");
    if (scoring != "sqrtsoftplus") throw r.err("scoring_func", "'" + scoring + "' is not supported (DeepSeek-V4 uses sqrtsoftplus)");
    c.sliding_window = r.integer("sliding_window");
    c.index_n_heads = r.integer("index_n_heads", 0);
    c.index_head_dim = r.integer("index_head_dim", 0);
    c.index_topk = r.integer("index_topk", 0);
    c.hc_mult = r.integer("hc_mult", 1);
    c.hc_sinkhorn_iters = r.integer("hc_sinkhorn_iters", 20);
    c.hc_eps = r.number("hc_eps", 1e-6);
    c.rms_norm_eps = r.number("rms_norm_eps", 1e-6);
    c.max_position_embeddings = r.integer("max_position_embeddings", 0);
    c.num_nextn_predict_layers = r.integer("num_nextn_predict_layers", 0);
    c.bos_token_id = r.has("bos_token_id") ? r.integer("bos_token_id") : -1;
    if (r.has("eos_token_id")) {
        const auto& e = j["eos_token_id"];
        if (e.is_array()) {
            for (auto& x : e) {
                if (!x.is_number_integer()) throw r.err("eos_token_id", "expected integers");
                c.eos_token_ids.push_back(x.get<int64_t>());
            }
        } else {
            c.eos_token_ids.push_back(r.integer("eos_token_id"));
        }
    }
    c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
    c.expert_dtype = r.string("expert_dtype", "");
    c.fp8_quantized = r.has("quantization_config");
    if (c.fp8_quantized) {
        const auto& q = j["quantization_config"];
        if (!q.is_object()) throw r.err("quantization_config", "expected an object");
        if (q.contains("quant_method") && q["quant_method"] != "fp8")
            throw r.err("quantization_config.quant_method", q["quant_method"].dump() + " is not supported (fp8 is)");
        if (q.contains("weight_block_size")) {
            const auto& b = q["weight_block_size"];
            if (!b.is_array() || b.size() != 2 || b[0] != 128 || b[1] != 128)
                throw r.err("quantization_config.weight_block_size", b.dump() + " is not supported ([128, 128] is)");
        }
    }
    if (!c.expert_dtype.empty() && c.expert_dtype != "fp4" && c.expert_dtype != "fp8" && c.expert_dtype != "bf16")
        throw r.err("expert_dtype", "'" + c.expert_dtype + "' is not one of fp4, fp8, bf16");

    // RoPE: transformers nests {main, compress} under rope_parameters; official configs give
    // rope_theta, compress_rope_theta and rope_scaling (yarn) at the top level.
    double partial = 0;
    c.rope_theta = r.number("rope_theta", 10000.0);
    c.compress_rope_theta = r.number("compress_rope_theta", c.rope_theta);
    const json* yarn = nullptr;
    std::string yarn_field;
    if (r.has("rope_parameters") && j["rope_parameters"].is_object() && j["rope_parameters"].contains("main")) {
        const auto& rp = j["rope_parameters"];
        const auto& m = rp["main"];
        if (!m.is_object()) throw r.err("rope_parameters.main", "expected an object");
        c.rope_theta = num_in(m, "rope_theta", "rope_parameters.main", src, c.rope_theta);
        partial = num_in(m, "partial_rotary_factor", "rope_parameters.main", src, 0);
        if (rp.contains("compress")) {
            const auto& cp = rp["compress"];
            if (!cp.is_object()) throw r.err("rope_parameters.compress", "expected an object");
            c.compress_rope_theta = num_in(cp, "rope_theta", "rope_parameters.compress", src, c.compress_rope_theta);
            std::string type = str_in(cp, "rope_type", "type", "rope_parameters.compress", src, "default");
            if (type == "yarn") {
                yarn = &cp;
                yarn_field = "rope_parameters.compress";
            } else if (type != "default") {
                throw r.err("rope_parameters.compress.rope_type", "'" + type + "' is not supported (default or yarn)");
            }
        }
    } else if (r.has("rope_scaling")) {
        const auto& rs = j["rope_scaling"];
        if (!rs.is_object()) throw r.err("rope_scaling", "expected an object");
        std::string type = str_in(rs, "type", "rope_type", "rope_scaling", src, "");
        if (type == "yarn") {
            yarn = &rs;
            yarn_field = "rope_scaling";
        } else if (!type.empty() && type != "default") {
            throw r.err("rope_scaling.type", "'" + type + "' is not supported (yarn is)");
        }
    }
    if (yarn) {
        c.yarn.enabled = true;
        c.yarn.original_max_position_embeddings =
            num_in(*yarn, "original_max_position_embeddings", yarn_field, src, 0, true);
        if (c.yarn.original_max_position_embeddings <= 0)
            throw r.err(yarn_field + ".original_max_position_embeddings", "must be positive");
        // As transformers: an explicit factor wins; without one it is the context extension ratio.
        c.yarn.factor = num_in(*yarn, "factor", yarn_field, src,
                               double(c.max_position_embeddings) / c.yarn.original_max_position_embeddings);
        if (yarn->contains("truncate") && (*yarn)["truncate"].is_boolean()) c.yarn.truncate = (*yarn)["truncate"].get<bool>();
        c.yarn.beta_fast = num_in(*yarn, "beta_fast", yarn_field, src, 32);
        c.yarn.beta_slow = num_in(*yarn, "beta_slow", yarn_field, src, 1);
        if (!(c.yarn.factor > 0)) throw r.err(yarn_field + ".factor", "must be positive");
    }
    if (r.has("qk_rope_head_dim")) {
        c.rope_dim = r.integer("qk_rope_head_dim");
    } else {
        if (partial == 0) partial = r.number("partial_rotary_factor", 0);
        if (partial <= 0) throw r.err("qk_rope_head_dim", "missing (and no partial_rotary_factor to derive it)");
        c.rope_dim = int64_t(std::llround(double(c.head_dim) * partial));
    }

    // Layer types and MoE types.
    const int64_t L = c.num_hidden_layers;
    if (L <= 0 || L > 100000) throw r.err("num_hidden_layers", "must be positive");
    c.layers.resize(size_t(L));
    if (r.has("layer_types")) {
        const auto& lt = j["layer_types"];
        if (!lt.is_array()) throw r.err("layer_types", "expected an array");
        if (int64_t(lt.size()) != L)
            throw r.err("layer_types", "has " + std::to_string(lt.size()) + " entries but num_hidden_layers is " +
                                           std::to_string(L));
        std::map<std::string, int64_t> rates;
        if (r.has("compress_rates")) {
            if (!j["compress_rates"].is_object()) throw r.err("compress_rates", "expected an object");
            for (auto& [k, v] : j["compress_rates"].items()) {
                if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > (1 << 24))
                    throw r.err("compress_rates." + k, "expected a positive integer, got " + v.dump());
                rates[k] = v.get<int64_t>();
            }
        }
        for (size_t i = 0; i < lt.size(); ++i) {
            if (!lt[i].is_string()) throw r.err("layer_types[" + std::to_string(i) + "]", "expected a string");
            auto& spec = c.layers[i];
            spec.attn = parse_layer_type(lt[i].get<std::string>(), src, i);
            if (spec.attn != AttnType::Sliding) {
                auto it = rates.find(attn_type_name(spec.attn));
                if (it == rates.end())
                    throw r.err("compress_rates", std::string("no rate for ") + attn_type_name(spec.attn) +
                                                      ", used by layer " + std::to_string(i));
                spec.compress_ratio = int(it->second);
            }
        }
    } else if (r.has("compress_ratios")) {
        const auto& cr = j["compress_ratios"];
        if (!cr.is_array()) throw r.err("compress_ratios", "expected an array");
        // Official configs may list one more ratio per MTP layer.
        if (int64_t(cr.size()) < L || int64_t(cr.size()) > L + std::max<int64_t>(c.num_nextn_predict_layers, 0))
            throw r.err("compress_ratios", "has " + std::to_string(cr.size()) + " entries but num_hidden_layers is " +
                                               std::to_string(L));
        for (int64_t i = 0; i < L; ++i) {
            if (!cr[i].is_number_integer() || cr[i].get<int64_t>() < 0 || cr[i].get<int64_t>() > (1 << 24))
                throw r.err("compress_ratios[" + std::to_string(i) + "]", "expected a non-negative integer, got " + cr[i].dump());
            int64_t m = cr[i].get<int64_t>();
            auto& spec = c.layers[size_t(i)];
            spec.compress_ratio = int(m);
            // DeepSeek's reference: ratio 4 is CSA (overlapping windows + indexer), any other non-zero is HCA.
            spec.attn = m == 0 ? AttnType::Sliding : (m == 4 ? AttnType::CSA : AttnType::HCA);
        }
    } else {
        throw r.err("layer_types", "missing (neither layer_types nor compress_ratios is given)");
    }
    if (r.has("mlp_layer_types")) {
        const auto& mt = j["mlp_layer_types"];
        if (!mt.is_array()) throw r.err("mlp_layer_types", "expected an array");
        if (int64_t(mt.size()) != L)
            throw r.err("mlp_layer_types", "has " + std::to_string(mt.size()) + " entries but num_hidden_layers is " +
                                               std::to_string(L));
        for (size_t i = 0; i < mt.size(); ++i) {
            std::string s = mt[i].is_string() ? mt[i].get<std::string>() : "";
            if (s == "hash_moe") c.layers[i].hash_moe = true;
            else if (s != "moe")
                throw r.err("mlp_layer_types[" + std::to_string(i) + "]", "unknown MLP type " + mt[i].dump());
        }
        if (r.has("num_hash_layers")) {
            int64_t nh = r.integer("num_hash_layers");
            int64_t count = 0;
            for (auto& l : c.layers) count += l.hash_moe;
            if (nh != count)
                throw r.err("num_hash_layers", std::to_string(nh) + " contradicts mlp_layer_types (" +
                                                   std::to_string(count) + " hash_moe layers)");
        }
    } else {
        int64_t nh = r.integer("num_hash_layers", 0);
        if (nh < 0 || nh > L) throw r.err("num_hash_layers", std::to_string(nh) + " is outside 0.." + std::to_string(L));
        for (int64_t i = 0; i < nh; ++i) c.layers[size_t(i)].hash_moe = true;
    }

    // Consistency of the shapes.
    // Every size is bounded so that products of two sizes cannot overflow.
    auto positive = [&](const char* f, int64_t v) {
        if (v <= 0) throw r.err(f, "must be positive, got " + std::to_string(v));
        if (v > (int64_t(1) << 24)) throw r.err(f, std::to_string(v) + " is implausibly large");
    };
    positive("vocab_size", c.vocab_size);
    positive("hidden_size", c.hidden_size);
    positive("num_attention_heads", c.num_attention_heads);
    positive("head_dim", c.head_dim);
    positive("q_lora_rank", c.q_lora_rank);
    positive("o_groups", c.o_groups);
    positive("o_lora_rank", c.o_lora_rank);
    positive("n_routed_experts", c.n_routed_experts);
    positive("num_experts_per_tok", c.num_experts_per_tok);
    positive("moe_intermediate_size", c.moe_intermediate_size);
    positive("sliding_window", c.sliding_window);
    positive("hc_mult", c.hc_mult);
    positive("hc_sinkhorn_iters", c.hc_sinkhorn_iters);
    if (c.n_shared_experts < 0 || c.n_shared_experts > 1024) throw r.err("n_shared_experts", "must be within 0..1024");
    if (c.num_hidden_layers > 4096) throw r.err("num_hidden_layers", "implausibly large");
    if (c.rope_dim <= 0 || c.rope_dim > c.head_dim || c.rope_dim % 2)
        throw r.err("qk_rope_head_dim", std::to_string(c.rope_dim) + " must be even and within head_dim " +
                                            std::to_string(c.head_dim));
    if ((c.num_attention_heads * c.head_dim) % c.o_groups)
        throw r.err("o_groups", std::to_string(c.o_groups) + " does not divide num_attention_heads * head_dim");
    if (c.num_attention_heads % c.o_groups)
        throw r.err("o_groups", std::to_string(c.o_groups) + " does not divide num_attention_heads");
    if (c.num_experts_per_tok > c.n_routed_experts)
        throw r.err("num_experts_per_tok", std::to_string(c.num_experts_per_tok) + " exceeds n_routed_experts " +
                                               std::to_string(c.n_routed_experts));
    bool csa = false;
    for (auto& l : c.layers) csa |= l.attn == AttnType::CSA;
    if (csa) {
        positive("index_n_heads", c.index_n_heads);
        positive("index_head_dim", c.index_head_dim);
        positive("index_topk", c.index_topk);
        if (c.rope_dim > c.index_head_dim)
            throw r.err("index_head_dim", "smaller than the rope dims (" + std::to_string(c.rope_dim) + ")");
    }
    for (auto& eos : c.eos_token_ids)
        if (eos < 0 || eos >= c.vocab_size) throw r.err("eos_token_id", std::to_string(eos) + " is outside the vocabulary");
    return c;
}

ModelConfig ModelConfig::from_file(const std::string& path) {
    return from_json(read_json_file(path, "is this a checkpoint directory with a config.json?"), path);
}

}  // namespace dsv4
