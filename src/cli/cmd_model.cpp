// dsv4 logits | generate | info: the engine's own commands.
#include <cstdio>
#include <climits>
#include <cstring>
#include <map>
#include <numeric>
#include <stdexcept>

#include "cli/commands.h"
#include "io/safetensors.h"
#include "io/token_file.h"
#include "model/model.h"
#include "runtime/compare.h"
#include "runtime/generate.h"
#include "runtime/sampler.h"

namespace dsv4::cli {

namespace {

std::string human_bytes(double b) {
    const char* units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1000 && u < 4) b /= 1000, ++u;
    char buf[32];
    std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", b, units[u]);
    return buf;
}

std::string human_count(double n) {
    const char* units[] = {"", "K", "M", "B", "T"};
    int u = 0;
    while (n >= 1000 && u < 4) n /= 1000, ++u;
    char buf[32];
    std::snprintf(buf, sizeof buf, u ? "%.2f%s" : "%.0f%s", n, units[u]);
    return buf;
}

// Tensors the forward pass does not read (e.g. the MTP block) are listed, never fatal.
void note_unused(const Model& m) {
    const auto& u = m.weights().unused;
    if (u.empty()) return;
    std::map<std::string, int> groups;
    for (auto& n : u) groups[n.substr(0, n.find('.'))]++;
    std::string list;
    for (auto& [g, k] : groups) list += (list.empty() ? "" : ", ") + g + ".* (" + std::to_string(k) + ")";
    std::fprintf(stderr, "dsv4: note: %zu checkpoint tensors are not used by the forward pass: %s\n", u.size(), list.c_str());
}

// A tensor of the reference file (an error naming the file when it has none of that name).
const TensorView& ref_tensor(const SafetensorsFile& f, const std::string& name) {
    auto it = f.tensors().find(name);
    if (it == f.tensors().end()) throw std::runtime_error(f.path() + ": no tensor '" + name + "'");
    return it->second;
}

std::vector<int32_t> ref_tokens(const SafetensorsFile& f) {
    const TensorView& t = ref_tensor(f, "input_ids");
    if (t.shape.size() != 1) throw std::runtime_error(f.path() + ": input_ids must be 1-D, got " + t.shape_str());
    const std::vector<int64_t> all = t.ints();
    std::vector<int32_t> ids(all.size());
    for (size_t i = 0; i < ids.size(); ++i) {
        if (all[i] < 0 || all[i] > INT32_MAX)
            throw std::runtime_error(f.path() + ": input_ids[" + std::to_string(i) + "] = " + std::to_string(all[i]));
        ids[i] = int32_t(all[i]);
    }
    return ids;
}

// Prints how far logits [T, V] are from a reference tensor (runtime/compare.h).
void report_comparison(const std::vector<float>& ours, const TensorView& ref, int64_t T, int64_t V) {
    if (ref.dtype != DType::F32 || ref.shape != std::vector<int64_t>{T, V})
        throw std::runtime_error(ref.file + ": " + ref.name + " is " + ref.shape_str() + ", expected F32 [" +
                                 std::to_string(T) + ", " + std::to_string(V) + "]");
    std::vector<float> r(size_t(T * V));
    std::memcpy(r.data(), ref.data, r.size() * 4);
    const LogitsComparison c = compare_logits(ours, r, V);
    std::printf("reference       %s (%s): %lld positions, max |diff| %.3g, argmax agreement %.2f%% (%lld/%lld), "
                "mean KL %.3g\n",
                ref.file.c_str(), ref.name.c_str(), (long long)c.positions, c.max_abs_diff, 100 * c.argmax_agreement,
                (long long)c.same_argmax, (long long)c.positions, c.mean_kl);
    std::printf("RESULT compare max_abs_diff=%.6g argmax_agreement=%.6f mean_kl=%.6g\n", c.max_abs_diff,
                c.argmax_agreement, c.mean_kl);
}

}  // namespace

int cmd_logits(int argc, char** argv) {
    Args a(argc, argv, 1, {});
    auto model_dir = a.require("model");
    auto ref_path = a.get("reference");
    const std::string ref_name = a.get_or("reference-tensor", "logits_full");
    if (a.has("reference-tensor") && !ref_path) throw std::invalid_argument("--reference-tensor needs --reference");
    std::unique_ptr<SafetensorsFile> ref;
    if (ref_path) ref = SafetensorsFile::open(*ref_path);
    auto tokens_path = a.get("tokens");
    if (!tokens_path && !ref)
        throw std::invalid_argument("--tokens is required (or --reference, whose input_ids are then the tokens)");
    auto tokens = tokens_path ? read_token_file(*tokens_path) : ref_tokens(*ref);
    if (tokens.empty()) throw std::invalid_argument("no tokens to run");
    auto out = a.get("out");
    if (!out && !ref) throw std::invalid_argument("--out is required (or --reference, to compare instead)");
    auto chunks_s = a.get("chunks");
    int threads = int(a.get_int("threads", 0));
    Numerics numerics = parse_numerics(a.get_or("numerics", "fp32"));
    a.reject_unused("logits");
    std::vector<int64_t> chunks = {int64_t(tokens.size())};
    if (chunks_s) {
        chunks = parse_int_list(*chunks_s, "--chunks");
        int64_t sum = 0;
        for (auto c : chunks) {
            if (c <= 0) throw std::invalid_argument("--chunks: every chunk must be positive");
            sum += c;
        }
        if (sum != int64_t(tokens.size()))
            throw std::invalid_argument("--chunks sum to " + std::to_string(sum) + " but the token file has " +
                                        std::to_string(tokens.size()) + " tokens");
    }
    auto model = Model::load(model_dir, threads, numerics);
    note_unused(*model);
    const int64_t V = model->config().vocab_size;
    std::vector<float> all(tokens.size() * size_t(V)), part;
    auto st = model->new_sequence();
    size_t off = 0;
    for (auto c : chunks) {
        model->forward(st, std::span<const int32_t>(tokens.data() + off, size_t(c)), part);
        std::copy(part.begin(), part.end(), all.begin() + off * size_t(V));
        off += size_t(c);
    }
    if (out)
        write_safetensors(*out, {{"logits", DType::F32, {int64_t(tokens.size()), V}, all.data(), all.size() * 4}},
                          {{"numerics", numerics_name(numerics)}});
    if (ref) report_comparison(all, ref_tensor(*ref, ref_name), int64_t(tokens.size()), V);
    return 0;
}

int cmd_generate(int argc, char** argv) {
    Args a(argc, argv, 1, {"greedy", "ignore-eos", "print-ids"});
    auto model_dir = a.require("model");
    auto prompt = read_token_file(a.require("tokens"));
    int64_t max_new = a.get_int("max-new-tokens", 128);
    if (max_new < 0) throw std::invalid_argument("--max-new-tokens must be >= 0");
    SamplerParams sp;
    bool greedy_flag = a.flag("greedy");
    sp.temperature = a.get_double("temperature", 1.0);
    sp.top_p = a.get_double("top-p", 1.0);
    sp.top_k = a.get_int("top-k", 0);
    sp.seed = uint64_t(a.get_int("seed", 0));
    sp.greedy = greedy_flag || !(a.has("temperature") || a.has("top-p") || a.has("top-k"));
    if (greedy_flag && (a.has("temperature") || a.has("top-p") || a.has("top-k")))
        throw std::invalid_argument("--greedy cannot be combined with --temperature/--top-p/--top-k");
    bool ignore_eos = a.flag("ignore-eos");
    a.flag("print-ids");  // ids are what generate prints (text output needs a tokenizer)
    int threads = int(a.get_int("threads", 0));
    Numerics numerics = parse_numerics(a.get_or("numerics", "fp32"));
    const int64_t prefill_chunk = a.get_int("prefill-chunk", 2048);
    if (prefill_chunk <= 0) throw std::invalid_argument("--prefill-chunk must be positive");
    a.reject_unused("generate");

    auto model = Model::load(model_dir, threads, numerics);
    note_unused(*model);
    if (max_new == 0) return 0;
    Sampler sampler(sp);
    auto st = model->new_sequence();
    GenerateOptions opt;
    opt.max_new = max_new;
    opt.prefill_chunk = prefill_chunk;
    opt.ignore_eos = ignore_eos;
    bool first = true;
    generate(*model, st, prompt, sampler, opt, [&](int32_t next, bool) {  // the eos id is printed too
        std::printf(first ? "%d" : " %d", next);
        std::fflush(stdout);
        first = false;
    });
    std::printf("\n");
    return 0;
}

int cmd_info(int argc, char** argv) {
    Args a(argc, argv, 1, {});
    auto model_dir = a.require("model");
    int64_t ctx = a.get_int("context", 0);
    Numerics numerics = parse_numerics(a.get_or("numerics", "fp32"));
    a.reject_unused("info");
    auto model = Model::load(model_dir, 1, numerics);
    const auto& c = model->config();
    const auto& w = model->weights();
    if (ctx <= 0) ctx = c.max_position_embeddings > 0 ? c.max_position_embeddings : 4096;

    std::printf("checkpoint      %s (weights %s; DSV4_LOAD=mmap|read to choose)\n", model_dir.c_str(),
                residency_name(model->checkpoint().residency()));
    std::printf("architecture    DeepSeek-V4: %lld layers, hidden %lld, vocab %lld\n", (long long)c.num_hidden_layers,
                (long long)c.hidden_size, (long long)c.vocab_size);
    std::printf("attention       %lld heads x head_dim %lld (rope dims %lld), one shared KV head, q_lora %lld, "
                "output %lld groups x rank %lld, sliding window %lld\n",
                (long long)c.num_attention_heads, (long long)c.head_dim, (long long)c.rope_dim, (long long)c.q_lora_rank,
                (long long)c.o_groups, (long long)c.o_lora_rank, (long long)c.sliding_window);
    std::printf("rope            theta %g (sliding layers); compressed layers theta %g", c.rope_theta, c.compress_rope_theta);
    if (c.yarn.enabled)
        std::printf(" with YaRN x%g from %g positions (beta %g/%g)", c.yarn.factor, c.yarn.original_max_position_embeddings,
                    c.yarn.beta_fast, c.yarn.beta_slow);
    std::printf("\n");
    std::printf("numerics        %s\n",
                numerics == Numerics::FP32 ? "fp32 (exactly dequantized weights, fp32 math; --numerics official for DeepSeek's roundings)"
                : numerics == Numerics::Official ? "official (DeepSeek's bf16 activations, FP8/FP4 activation rounding)"
                                                 : "int8 (fp32, but MXFP4 experts read activations rounded to int8 per 32 columns)");
    std::printf("mHC             %lld streams, %lld Sinkhorn iterations\n", (long long)c.hc_mult, (long long)c.hc_sinkhorn_iters);
    std::printf("MoE             %lld routed experts, top %lld, %lld shared, expert width %lld, routed scale %g, "
                "swiglu limit %g\n",
                (long long)c.n_routed_experts, (long long)c.num_experts_per_tok, (long long)c.n_shared_experts,
                (long long)c.moe_intermediate_size, c.routed_scaling_factor, c.swiglu_limit);
    if (c.has_compressed_layers())
        std::printf("indexer         %lld heads x %lld, top %lld\n", (long long)c.index_n_heads,
                    (long long)c.index_head_dim, (long long)c.index_topk);
    std::printf("layers\n");
    for (size_t i = 0; i < c.layers.size(); ++i) {
        const auto& l = c.layers[i];
        std::printf("  %3zu  %-30s", i, attn_type_name(l.attn));
        if (l.compress_ratio) std::printf(" ratio %-4d", l.compress_ratio);
        else std::printf("           ");
        std::printf(" %s\n", l.hash_moe ? "hash-routed MoE" : "top-k MoE");
    }

    // Parameters and bytes, by counting the weights the forward pass reads.
    std::map<std::string, int64_t> bytes_by_format;
    double total = 0, active = 0;
    auto add = [&](const Linear& L, bool routed) {
        if (!L.valid()) return;
        double p = double(L.out) * double(L.in);
        total += p;
        if (!routed) active += p;
        bytes_by_format[format_name(L.format)] += L.bytes();
    };
    auto addv = [&](const std::vector<float>& v) {
        total += double(v.size());
        active += double(v.size());
    };
    add(w.embed, false);
    if (w.head.data != w.embed.data) add(w.head, false);
    addv(w.norm);
    add(w.hc_head.fn, false);
    double routed_per_layer_active = 0;
    for (size_t l = 0; l < w.layers.size(); ++l) {
        const auto& L = w.layers[l];
        addv(L.attn_norm), addv(L.ffn_norm);
        add(L.hc_attn.fn, false), add(L.hc_ffn.fn, false);
        const auto& A = L.attn;
        for (auto* x : {&A.wq_a, &A.wq_b, &A.wkv, &A.wo_a, &A.wo_b}) add(*x, false);
        addv(A.q_norm), addv(A.kv_norm), addv(A.attn_sink);
        if (A.has_compressor) add(A.compressor.wkv, false), add(A.compressor.wgate, false), addv(A.compressor.ape);
        if (A.has_indexer) {
            add(A.indexer.wq_b, false), add(A.indexer.weights_proj, false);
            add(A.indexer.compressor.wkv, false), add(A.indexer.compressor.wgate, false);
        }
        add(L.ffn.gate, false);
        for (auto& e : L.ffn.experts) add(e.w1, true), add(e.w2, true), add(e.w3, true);
        if (!L.ffn.experts.empty()) {
            const auto& e = L.ffn.experts[0];
            routed_per_layer_active += double(c.num_experts_per_tok) *
                                       (double(e.w1.out) * e.w1.in + double(e.w2.out) * e.w2.in + double(e.w3.out) * e.w3.in);
        }
        if (L.ffn.has_shared) add(L.ffn.shared.w1, false), add(L.ffn.shared.w2, false), add(L.ffn.shared.w3, false);
    }
    active += routed_per_layer_active;
    std::printf("parameters      %s total, %s active per token\n", human_count(total).c_str(), human_count(active).c_str());
    int64_t weight_bytes = 0;
    std::printf("weights by format\n");
    for (auto& [f, b] : bytes_by_format) {
        std::printf("  %-36s %s\n", f.c_str(), human_bytes(double(b)).c_str());
        weight_bytes += b;
    }
    // Cache per sequence at `ctx` tokens: window kv + compressed entries (+ indexer keys), fp32.
    double cache = 0;
    for (auto& l : c.layers) {
        cache += double(std::min<int64_t>(ctx, c.sliding_window)) * double(c.head_dim) * 4;
        if (l.compress_ratio) cache += double(ctx / l.compress_ratio) * double(c.head_dim) * 4;
        if (l.attn == AttnType::CSA) cache += double(ctx / l.compress_ratio) * double(c.index_head_dim) * 4;
    }
    std::printf("memory          %s of weights (memory-mapped) + %s of cache per sequence at %lld tokens\n",
                human_bytes(double(weight_bytes)).c_str(), human_bytes(cache).c_str(), (long long)ctx);
    if (!w.unused.empty()) {
        std::map<std::string, int> groups;
        for (auto& n : w.unused) groups[n.substr(0, n.find('.'))]++;
        std::printf("not used        ");
        for (auto& [g, k] : groups)
            std::printf("%s.* (%d tensors%s) ", g.c_str(), k, g == "mtp" ? ", multi-token prediction block" : "");
        std::printf("\n");
    }
    return 0;
}

}  // namespace dsv4::cli
