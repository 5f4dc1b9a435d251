// Writing checkpoints in the official layout (dsv4-formats.md): FP8 E4M3 with E8M0 128x128 block
// scales, MXFP4 routed experts (E2M1 + E8M0 per 32 inputs), BF16, F32; sharded safetensors with
// model.safetensors.index.json and a config.json that says what was written.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "io/checkpoint.h"
#include "kernels/cpu/threadpool.h"

namespace dsv4 {

enum class QuantFormat {
    F32,         // every float tensor in F32 (dequantized): for debugging
    BF16,        // every 2-D float tensor in BF16, 1-D ones in F32
    FP8,         // the official release's types, routed experts FP8 (expert_dtype fp8)
    FP4Experts,  // the same with routed experts in MXFP4 (expert_dtype fp4)
};
QuantFormat parse_quant_format(const std::string& s);  // f32 | bf16 | fp8 | fp4-experts
const char* quant_format_name(QuantFormat f);

// The exponent k of the smallest power of two with amax / 2^k <= qmax, for qmax = 448 or 6,
// computed exactly from the bits of amax (no division); clamped to E8M0's range [-127, 127].
int pow2_scale_exponent(float amax, float qmax);

// How a tensor is stored under a format: decided by its official name and rank.
enum class StoreAs { Keep, F32, BF16, FP8, FP4 };
StoreAs store_as(const std::string& official_name, size_t rank, bool is_float, QuantFormat f);

// One tensor to write. Float tensors give their values through fill (called once, may use the
// pool); others give raw bytes in `dtype`. `shape` is the logical shape ([out, in] for weights).
struct SourceTensor {
    std::string name;
    std::vector<int64_t> shape;
    bool is_float = true;
    std::function<void(ThreadPool&, float*)> fill;
    DType dtype = DType::F32;  // non-float tensors
    std::function<std::vector<uint8_t>()> raw;
};

// Every tensor of an open checkpoint as a source (quantized weights dequantized exactly; their
// scale tensors folded in).
std::vector<SourceTensor> checkpoint_sources(const Checkpoint& ck);

// Writes `tensors` under `fmt` into out_dir: shards of at most shard_bytes, the index, and
// config.json = `config` with quantization_config / expert_dtype / torch_dtype set for fmt.
// Progress on stderr when `progress`.
void write_checkpoint(const std::string& out_dir, const nlohmann::json& config, const std::vector<SourceTensor>& tensors,
                      QuantFormat fmt, ThreadPool& pool, int64_t shard_bytes = int64_t(2) << 30, bool progress = true);

}  // namespace dsv4
