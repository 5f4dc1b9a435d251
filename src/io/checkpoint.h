// A checkpoint directory: config.json + model.safetensors or a sharded index, all memory-mapped.
// Tensor names are normalised to the official form (dsv4-model.md "Checkpoint names"), so the
// model code sees one naming whichever way the checkpoint was saved.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/config.h"
#include "io/safetensors.h"

namespace dsv4 {

// transformers form -> official form: drops "model.", embed_tokens -> embed, lm_head -> head,
// hc_head.hc_fn -> hc_head_fn, attn.norm -> attn.kv_norm, weight_scale_inv -> scale.
std::string official_tensor_name(const std::string& name);

// How the shards are held (safetensors.h Residency). Auto: Resident when all shards together take
// at most half of the memory available now, else Mapped. DSV4_LOAD=mmap|read in the environment
// forces Mapped / Resident.
enum class LoadMode : uint8_t { Auto, Mapped, Resident };
LoadMode load_mode_from_env();  // DSV4_LOAD, Auto when unset; throws on another value

class Checkpoint {
public:
    static std::unique_ptr<Checkpoint> open(const std::string& dir, LoadMode mode = load_mode_from_env());
    Residency residency() const { return residency_; }

    const ModelConfig& config() const { return config_; }
    const std::string& dir() const { return dir_; }
    // nullptr if absent.
    const TensorView* find(const std::string& official_name) const;
    const std::map<std::string, const TensorView*>& tensors() const { return tensors_; }
    const std::vector<std::string>& files() const { return files_; }

private:
    std::string dir_;
    ModelConfig config_;
    std::vector<std::unique_ptr<SafetensorsFile>> shards_;
    std::vector<std::string> files_;
    std::map<std::string, const TensorView*> tensors_;
    Residency residency_ = Residency::Mapped;
};

}  // namespace dsv4
