#include "io/quantize.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>
#include <unistd.h>

#include "kernels/cpu/matmul.h"
#include "model/weights.h"

namespace dsv4 {

namespace fs = std::filesystem;
using json = nlohmann::json;

QuantFormat parse_quant_format(const std::string& s) {
    if (s == "f32") return QuantFormat::F32;
    if (s == "bf16") return QuantFormat::BF16;
    if (s == "fp8") return QuantFormat::FP8;
    if (s == "fp4-experts" || s == "fp4") return QuantFormat::FP4Experts;
    throw std::invalid_argument("--format '" + s + "': expected fp8, fp4-experts, bf16 or f32");
}

const char* quant_format_name(QuantFormat f) {
    switch (f) {
        case QuantFormat::F32: return "f32";
        case QuantFormat::BF16: return "bf16";
        case QuantFormat::FP8: return "fp8";
        case QuantFormat::FP4Experts: return "fp4-experts";
    }
    return "?";
}

int pow2_scale_exponent(float amax, float qmax) {
    if (!(amax > 0.0f)) return -127;  // all zero: any scale works; the smallest
    if (!std::isfinite(amax)) throw std::runtime_error("cannot quantize a block holding inf or NaN");
    int ea, eq;
    const float fa = std::frexp(amax, &ea), fq = std::frexp(qmax, &eq);
    // amax / 2^k <= qmax  <=>  fa * 2^(ea-k) <= fq * 2^eq  <=>  k >= ea - eq + (fa > fq)
    int k = ea - eq + (fa > fq ? 1 : 0);
    return std::clamp(k, -127, 127);
}

StoreAs store_as(const std::string& n, size_t rank, bool is_float, QuantFormat f) {
    if (!is_float) return StoreAs::Keep;
    switch (f) {
        case QuantFormat::F32: return StoreAs::F32;
        case QuantFormat::BF16: return rank == 2 ? StoreAs::BF16 : StoreAs::F32;
        default: break;
    }
    static const std::regex routed(R"((^|\.)ffn\.experts\.\d+\.w[123]\.weight$)");
    static const std::regex fp8(
        R"((^|\.)(attn\.(wq_a|wq_b|wkv|wo_a|wo_b)|attn\.indexer\.wq_b|ffn\.shared_experts\.w[123])\.weight$)");
    static const std::regex bf16(
        R"(^(embed|head)\.weight$|(^|\.)(ffn\.gate|compressor\.wkv|compressor\.wgate|indexer\.weights_proj)\.weight$)");
    if (rank == 2 && std::regex_search(n, routed)) return f == QuantFormat::FP4Experts ? StoreAs::FP4 : StoreAs::FP8;
    if (rank == 2 && std::regex_search(n, fp8)) return StoreAs::FP8;
    if (rank == 2 && std::regex_search(n, bf16)) return StoreAs::BF16;
    return StoreAs::F32;  // norms, attn_sink, ape, hc_*, gate.bias (official FP32)
}

namespace {

int64_t numel(const std::vector<int64_t>& s) {
    int64_t n = 1;
    for (auto d : s) n *= d;
    return n;
}

uint16_t f32_to_bf16(float f) {  // round to nearest even; NaN kept quiet
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1);
    return uint16_t(u >> 16);
}

bool ends_with(const std::string& s, const std::string& t) {
    return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

// One converted tensor, ready to write: the weight and, for FP8/FP4, its scale.
struct Converted {
    std::string name, scale_name;
    DType dtype = DType::F32, scale_dtype = DType::F8_E8M0;
    std::vector<int64_t> shape, scale_shape;
    std::vector<uint8_t> data, scale;
};

int64_t stored_bytes(const SourceTensor& t, StoreAs s) {
    const int64_t n = numel(t.shape);
    switch (s) {
        case StoreAs::Keep: return n * int64_t(dtype_size(t.dtype));
        case StoreAs::F32: return 4 * n;
        case StoreAs::BF16: return 2 * n;
        case StoreAs::FP8: return n + ((t.shape[0] + 127) / 128) * ((t.shape[1] + 127) / 128);
        case StoreAs::FP4: return n / 2 + t.shape[0] * ((t.shape[1] + 31) / 32);
    }
    return 0;
}

Converted convert(const SourceTensor& t, StoreAs s, ThreadPool& pool) {
    Converted c;
    c.name = t.name;
    c.shape = t.shape;
    const int64_t n = numel(t.shape);
    if (s == StoreAs::Keep) {
        c.dtype = t.dtype;
        c.data = t.raw();
        return c;
    }
    std::vector<float> v(static_cast<size_t>(n));
    t.fill(pool, v.data());
    switch (s) {
        case StoreAs::Keep: break;
        case StoreAs::F32:
            c.dtype = DType::F32;
            c.data.resize(size_t(4 * n));
            std::memcpy(c.data.data(), v.data(), size_t(4 * n));
            break;
        case StoreAs::BF16:
            c.dtype = DType::BF16;
            c.data.resize(size_t(2 * n));
            pool.parallel_for(n, [&](int64_t b, int64_t e) {
                for (int64_t i = b; i < e; ++i) {
                    uint16_t h = f32_to_bf16(v[size_t(i)]);
                    std::memcpy(c.data.data() + 2 * i, &h, 2);
                }
            }, 1 << 16);
            break;
        case StoreAs::FP8: {
            // 128x128 blocks: scale 2^k from the block's max |w| so that |w| / 2^k <= 448.
            const int64_t out = t.shape[0], in = t.shape[1];
            const int64_t sr = (out + 127) / 128, sc = (in + 127) / 128;
            c.dtype = DType::F8_E4M3;
            c.data.resize(size_t(n));
            c.scale_name = t.name.substr(0, t.name.size() - 7) + ".scale";  // drop ".weight"
            c.scale_shape = {sr, sc};
            c.scale.resize(size_t(sr * sc));
            pool.parallel_for(sr * sc, [&](int64_t b, int64_t e) {
                for (int64_t blk = b; blk < e; ++blk) {
                    const int64_t r0 = blk / sc * 128, c0 = blk % sc * 128;
                    const int64_t r1 = std::min(out, r0 + 128), c1 = std::min(in, c0 + 128);
                    float amax = 0;
                    for (int64_t r = r0; r < r1; ++r)
                        for (int64_t i = c0; i < c1; ++i) amax = std::max(amax, std::fabs(v[size_t(r * in + i)]));
                    int k;
                    try {
                        k = pow2_scale_exponent(amax, 448.0f);
                    } catch (const std::exception& ex) {
                        throw std::runtime_error("tensor '" + t.name + "': " + ex.what());
                    }
                    c.scale[size_t(blk)] = uint8_t(k + 127);
                    const float inv = std::ldexp(1.0f, -k);  // exact: |k| <= 127
                    for (int64_t r = r0; r < r1; ++r)
                        for (int64_t i = c0; i < c1; ++i)
                            c.data[size_t(r * in + i)] = f32_to_e4m3(v[size_t(r * in + i)] * inv);
                }
            });
            break;
        }
        case StoreAs::FP4: {
            // MXFP4: per row, per 32 inputs, scale 2^k with max |w| / 2^k <= 6; codes packed low nibble first.
            const int64_t out = t.shape[0], in = t.shape[1];
            if (in % 2) throw std::runtime_error("tensor '" + t.name + "': MXFP4 needs an even input width");
            const int64_t sc = (in + 31) / 32;
            c.dtype = DType::I8;
            c.shape = {out, in / 2};
            c.data.assign(size_t(n / 2), 0);
            c.scale_name = t.name.substr(0, t.name.size() - 7) + ".scale";
            c.scale_shape = {out, sc};
            c.scale.resize(size_t(out * sc));
            pool.parallel_for(out, [&](int64_t b, int64_t e) {
                for (int64_t r = b; r < e; ++r)
                    for (int64_t j = 0; j < sc; ++j) {
                        const int64_t c0 = j * 32, c1 = std::min(in, c0 + 32);
                        float amax = 0;
                        for (int64_t i = c0; i < c1; ++i) amax = std::max(amax, std::fabs(v[size_t(r * in + i)]));
                        int k;
                        try {
                            k = pow2_scale_exponent(amax, 6.0f);
                        } catch (const std::exception& ex) {
                            throw std::runtime_error("tensor '" + t.name + "': " + ex.what());
                        }
                        c.scale[size_t(r * sc + j)] = uint8_t(k + 127);
                        const float inv = std::ldexp(1.0f, -k);
                        for (int64_t i = c0; i < c1; ++i) {
                            const uint8_t code = f32_to_e2m1(v[size_t(r * in + i)] * inv);
                            c.data[size_t(r * in / 2 + i / 2)] |= uint8_t((i & 1) ? code << 4 : code);
                        }
                    }
            });
            break;
        }
    }
    return c;
}

// Progress on stderr: a bar redrawn in place on a terminal; in a log (not a terminal) one line
// per 10% so the file stays readable.
class Progress {
public:
    void update(int64_t done, int64_t total, double secs, const std::string& what) {
        const double f = total > 0 ? double(done) / double(total) : 1.0;
        if (!tty_) {
            const int decile = int(f * 10);
            if (decile == last_decile_ && what != "done") return;
            last_decile_ = decile;
            std::fprintf(stderr, "%3d%%  %.2f / %.2f GB  %5.1fs  %s\n", int(f * 100), double(done) / 1e9,
                         double(total) / 1e9, secs, what.c_str());
            return;
        }
        const int width = 30;
        const int fill = int(f * width);
        std::fprintf(stderr, "\r[%.*s%*s] %3d%%  %.2f / %.2f GB  %5.1fs  %-40.40s", fill,
                     "##############################", width - fill, "", int(f * 100), double(done) / 1e9,
                     double(total) / 1e9, secs, what.c_str());
        if (what == "done") std::fprintf(stderr, "\n");
        std::fflush(stderr);
    }

private:
    bool tty_ = isatty(fileno(stderr)) != 0;
    int last_decile_ = -1;
};

}  // namespace

std::vector<SourceTensor> checkpoint_sources(const Checkpoint& ck) {
    std::vector<SourceTensor> out;
    const auto& all = ck.tensors();
    for (auto& [name, tv] : all) {
        const TensorView* t = tv;
        // a quantized weight's scale goes with its weight
        if (ends_with(name, ".scale")) {
            auto w = all.find(name.substr(0, name.size() - 6) + ".weight");
            if (w != all.end() && (w->second->dtype == DType::F8_E4M3 || w->second->dtype == DType::I8 ||
                                   w->second->dtype == DType::U8))
                continue;
        }
        SourceTensor s;
        s.name = name;
        s.shape = t->shape;
        switch (t->dtype) {
            case DType::F32:
            case DType::F16:
            case DType::BF16:
            case DType::F64: {
                s.fill = [t](ThreadPool& pool, float* dst) {
                    const DType dt = t->dtype;
                    const uint8_t* src = t->data;
                    pool.parallel_for(t->numel(), [&](int64_t b, int64_t e) {
                        if (dt == DType::F32) {
                            std::memcpy(dst + b, src + 4 * b, size_t(e - b) * 4);
                        } else if (dt == DType::BF16) {
                            for (int64_t i = b; i < e; ++i) {
                                uint16_t h;
                                std::memcpy(&h, src + 2 * i, 2);
                                dst[i] = bf16_to_f32(h);
                            }
                        } else if (dt == DType::F16) {
                            for (int64_t i = b; i < e; ++i) {
                                uint16_t h;
                                std::memcpy(&h, src + 2 * i, 2);
                                dst[i] = f16_to_f32(h);
                            }
                        } else {
                            for (int64_t i = b; i < e; ++i) {
                                double d;
                                std::memcpy(&d, src + 8 * i, 8);
                                dst[i] = float(d);
                            }
                        }
                    }, 1 << 16);
                };
                break;
            }
            case DType::F8_E4M3:
            case DType::I8:
            case DType::U8: {
                const bool fp8 = t->dtype == DType::F8_E4M3;
                const std::string sn = name.substr(0, name.size() - (ends_with(name, ".weight") ? 7 : 0)) + ".scale";
                const TensorView* st = ck.find(sn);
                if (!st || t->shape.size() != 2) {
                    if (fp8) throw std::runtime_error(t->file + ": tensor '" + name + "': F8_E4M3 without its scale '" + sn + "'");
                    s.is_float = false;  // a plain integer tensor
                    s.dtype = t->dtype;
                    s.raw = [t] { return std::vector<uint8_t>(t->data, t->data + t->nbytes); };
                    break;
                }
                Linear L;
                L.name = name;
                L.format = fp8 ? Linear::Format::FP8 : Linear::Format::FP4;
                L.out = t->shape[0];
                L.in = fp8 ? t->shape[1] : 2 * t->shape[1];
                L.data = t->data;
                L.row_bytes = t->shape[1];
                L.scale = st->data;
                L.scale_dtype = st->dtype;
                L.block_out = fp8 ? 128 : 1;
                L.block_in = fp8 ? 128 : 32;
                const std::vector<int64_t> want = {(L.out + L.block_out - 1) / L.block_out, (L.in + L.block_in - 1) / L.block_in};
                if (st->shape != want || (st->dtype != DType::F8_E8M0 && st->dtype != DType::F32))
                    throw std::runtime_error(st->file + ": scale tensor '" + sn + "' has shape " + st->shape_str() +
                                             " / dtype " + dtype_name(st->dtype) + ", not what '" + name + "' needs");
                L.scale_cols = want[1];
                s.shape = {L.out, L.in};
                s.fill = [L](ThreadPool& pool, float* dst) {
                    pool.parallel_for(L.out, [&](int64_t b, int64_t e) {
                        for (int64_t r = b; r < e; ++r) dequant_row(L, r, dst + r * L.in);
                    });
                };
                break;
            }
            default:
                s.is_float = false;
                s.dtype = t->dtype;
                s.raw = [t] { return std::vector<uint8_t>(t->data, t->data + t->nbytes); };
        }
        out.push_back(std::move(s));
    }
    return out;
}

void write_checkpoint(const std::string& out_dir, const json& config_in, const std::vector<SourceTensor>& tensors,
                      QuantFormat fmt, ThreadPool& pool, int64_t shard_bytes, bool progress) {
    fs::create_directories(out_dir);
    // Plan the shards in name order, by stored size.
    std::vector<StoreAs> how;
    std::vector<int> shard_of;
    std::vector<int64_t> bytes;
    int64_t total = 0, in_shard = 0;
    int shards = 0;
    for (auto& t : tensors) {
        how.push_back(store_as(t.name, t.shape.size(), t.is_float, fmt));
        bytes.push_back(stored_bytes(t, how.back()));
        if (shards == 0 || (in_shard > 0 && in_shard + bytes.back() > shard_bytes)) ++shards, in_shard = 0;
        in_shard += bytes.back();
        shard_of.push_back(shards - 1);
        total += bytes.back();
    }
    auto shard_name = [&](int i) {
        char b[64];
        std::snprintf(b, sizeof b, "model-%05d-of-%05d.safetensors", i + 1, shards);
        return std::string(b);
    };
    json weight_map = json::object();
    const auto t0 = std::chrono::steady_clock::now();
    auto secs = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    int64_t done = 0;
    size_t next = 0;
    Progress bar;
    for (int sh = 0; sh < shards; ++sh) {
        std::vector<Converted> conv;
        for (; next < tensors.size() && shard_of[next] == sh; ++next) {
            if (progress) bar.update(done, total, secs(), tensors[next].name);
            conv.push_back(convert(tensors[next], how[next], pool));
            done += bytes[next];
        }
        std::vector<TensorOut> outs;
        for (auto& c : conv) {
            outs.push_back({c.name, c.dtype, c.shape, c.data.data(), c.data.size()});
            weight_map[c.name] = shard_name(sh);
            if (!c.scale_name.empty()) {
                outs.push_back({c.scale_name, DType::F8_E8M0, c.scale_shape, c.scale.data(), c.scale.size()});
                weight_map[c.scale_name] = shard_name(sh);
            }
        }
        if (progress) bar.update(done, total, secs(), "writing " + shard_name(sh));
        write_safetensors((fs::path(out_dir) / shard_name(sh)).string(), outs, {{"format", "pt"}});
    }
    if (progress) bar.update(total, total, secs(), "done");
    json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    std::ofstream(fs::path(out_dir) / "model.safetensors.index.json") << index.dump(2) << "\n";

    json cfg = config_in;
    switch (fmt) {
        case QuantFormat::F32:
        case QuantFormat::BF16:
            cfg.erase("quantization_config");
            cfg.erase("expert_dtype");
            cfg["torch_dtype"] = fmt == QuantFormat::F32 ? "float32" : "bfloat16";
            break;
        case QuantFormat::FP8:
        case QuantFormat::FP4Experts:
            cfg["torch_dtype"] = "bfloat16";
            cfg["expert_dtype"] = fmt == QuantFormat::FP8 ? "fp8" : "fp4";
            cfg["quantization_config"] = {{"quant_method", "fp8"},       {"fmt", "e4m3"},
                                          {"scale_fmt", "ue8m0"},        {"activation_scheme", "dynamic"},
                                          {"weight_block_size", {128, 128}}};
            break;
    }
    std::ofstream(fs::path(out_dir) / "config.json") << cfg.dump(2) << "\n";
}

}  // namespace dsv4
