#include "io/checkpoint.h"

#include "io/json_file.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace dsv4 {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string official_tensor_name(const std::string& in) {
    std::string n = in;
    if (n.rfind("model.", 0) == 0) n = n.substr(6);
    if (n == "embed_tokens.weight") return "embed.weight";
    if (n == "lm_head.weight") return "head.weight";
    if (n.rfind("hc_head.hc_", 0) == 0) return "hc_head_" + n.substr(11);  // hc_head.hc_fn -> hc_head_fn
    static const std::regex kv_norm(R"(^(layers\.\d+\.attn)\.norm\.(weight)$)");
    n = std::regex_replace(n, kv_norm, "$1.kv_norm.$2");
    static const std::string inv = ".weight_scale_inv";
    if (n.size() > inv.size() && n.compare(n.size() - inv.size(), inv.size(), inv) == 0)
        n = n.substr(0, n.size() - inv.size()) + ".scale";
    return n;
}

LoadMode load_mode_from_env() {
    const char* e = std::getenv("DSV4_LOAD");
    if (!e || !*e) return LoadMode::Auto;
    const std::string v = e;
    if (v == "mmap") return LoadMode::Mapped;
    if (v == "read") return LoadMode::Resident;
    if (v == "auto") return LoadMode::Auto;
    throw std::runtime_error("DSV4_LOAD='" + v + "': expected mmap, read or auto");
}

namespace {

// MemAvailable from /proc/meminfo in bytes (0 when unknown).
uint64_t memory_available() {
    std::ifstream f("/proc/meminfo");
    std::string key;
    uint64_t kb = 0;
    std::string unit;
    while (f >> key >> kb >> unit)
        if (key == "MemAvailable:") return kb * 1024;
    return 0;
}

}  // namespace

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string& dir, LoadMode mode) {
    auto c = std::unique_ptr<Checkpoint>(new Checkpoint());
    c->dir_ = dir;
    if (!fs::is_directory(dir)) throw std::runtime_error(dir + ": not a directory (expected a checkpoint directory)");
    c->config_ = ModelConfig::from_file((fs::path(dir) / "config.json").string());

    std::vector<std::string> shard_names;
    std::map<std::string, std::string> weight_map;  // tensor -> shard, from the index
    auto index = fs::path(dir) / "model.safetensors.index.json";
    if (fs::exists(index)) {
        json j = read_json_file(index.string());
        if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
            throw std::runtime_error(index.string() + ": field 'weight_map': missing or not an object");
        std::set<std::string> seen;
        for (auto& [name, file] : j["weight_map"].items()) {
            if (!file.is_string()) throw std::runtime_error(index.string() + ": weight_map['" + name + "'] is not a file name");
            auto s = file.get<std::string>();
            if (s.find('/') != std::string::npos || s.find("..") != std::string::npos)
                throw std::runtime_error(index.string() + ": weight_map['" + name + "'] names a path outside the directory: " + s);
            weight_map[name] = s;
            if (seen.insert(s).second) shard_names.push_back(s);
        }
        for (auto& s : shard_names)
            if (!fs::exists(fs::path(dir) / s))
                throw std::runtime_error((fs::path(dir) / s).string() + ": missing shard (listed in model.safetensors.index.json)");
    } else if (fs::exists(fs::path(dir) / "model.safetensors")) {
        shard_names.push_back("model.safetensors");
    } else {
        throw std::runtime_error(dir + ": no model.safetensors or model.safetensors.index.json");
    }

    uint64_t total = 0;
    for (auto& s : shard_names) total += uint64_t(fs::file_size(fs::path(dir) / s));
    const uint64_t avail = memory_available();
    if (mode == LoadMode::Auto) mode = total <= avail / 2 ? LoadMode::Resident : LoadMode::Mapped;
    if (mode == LoadMode::Resident && avail > 0 && total > avail)
        throw std::runtime_error(dir + ": DSV4_LOAD=read needs " + std::to_string(total >> 20) + " MiB but only " +
                                 std::to_string(avail >> 20) + " MiB are available (DSV4_LOAD=mmap maps it instead)");
    c->residency_ = mode == LoadMode::Resident ? Residency::Resident : Residency::Mapped;
    for (auto& s : shard_names) {
        auto path = (fs::path(dir) / s).string();
        c->shards_.push_back(SafetensorsFile::open(path, c->residency_));
        c->files_.push_back(path);
        for (auto& [name, view] : c->shards_.back()->tensors()) {
            if (!weight_map.empty()) {
                auto it = weight_map.find(name);
                if (it == weight_map.end() || it->second != s) continue;  // index is authoritative
            }
            auto off = official_tensor_name(name);
            if (c->tensors_.count(off))
                throw std::runtime_error(path + ": tensor '" + name + "' appears twice (as '" + off + "')");
            c->tensors_[off] = &view;
        }
    }
    for (auto& [name, s] : weight_map)
        if (!c->tensors_.count(official_tensor_name(name)))
            throw std::runtime_error((fs::path(dir) / s).string() + ": tensor '" + name +
                                     "' is listed in the index but missing from the shard");
    return c;
}

const TensorView* Checkpoint::find(const std::string& name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : it->second;
}

}  // namespace dsv4
