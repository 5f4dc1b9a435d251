// safetensors files: memory-mapped, header validated before any tensor is touched.
// Format: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
// then the data region; offsets are relative to the data region.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/dtype.h"

namespace dsv4 {

// How a file's bytes are held in memory.
//  Mapped: a read-only memory map (pages come from the page cache on first touch; a model larger
//          than RAM still runs).
//  Resident: read once into anonymous memory with transparent huge pages requested: decode
//          streams every weight each token, and 2 MB pages remove most TLB misses (~10-15% faster
//          decode measured on dsv4-cpu2g); the page cache copy is dropped as the file is read.
enum class Residency : uint8_t { Mapped, Resident };
const char* residency_name(Residency r);

// A whole file, read-only, in memory (RAII), as `residency` says.
class MappedFile {
public:
    // Resident: each [begin, end) file range of `aligned` (sorted, disjoint: the tensors) starts
    // on a 64-byte boundary in memory, the bytes after it following it (the kernels read weights
    // in 64-byte vectors, and a load that crosses two cache lines costs two: 5-16% of a gemv from
    // cache); the bytes before the first range are at data(). Mapped ignores it.
    explicit MappedFile(const std::string& path, Residency residency = Residency::Mapped,
                        const std::vector<std::pair<uint64_t, uint64_t>>& aligned = {});
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    const uint8_t* data() const { return data_; }
    // The byte at file offset `off` (< size()).
    const uint8_t* at(uint64_t off) const;
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }
    Residency residency() const { return residency_; }

private:
    std::string path_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    Residency residency_ = Residency::Mapped;
    void* map_base_ = nullptr;  // what munmap takes
    size_t map_len_ = 0;
    struct Segment {
        uint64_t file_off, mem_off;  // a run of the file from file_off to the next segment's
    };
    std::vector<Segment> segments_;  // Resident with aligned ranges; empty: at(off) = data() + off
};

struct TensorView {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    const uint8_t* data = nullptr;  // points into the mapping
    size_t nbytes = 0;
    std::string file;  // for error messages

    int64_t numel() const;
    std::string shape_str() const;
    // The entries of an I64 or I32 tensor (else throws naming the file and the tensor).
    std::vector<int64_t> ints() const;
};

class SafetensorsFile {
public:
    // Maps `path` and validates its header; throws std::runtime_error naming the file and the
    // tensor or field at fault.
    static std::unique_ptr<SafetensorsFile> open(const std::string& path, Residency residency = Residency::Mapped);
    // Validates the header of a whole file held in memory (`size` bytes; also used by the fuzz
    // tests); the views point into `bytes`.
    static std::map<std::string, TensorView> parse_header(const std::string& file, const uint8_t* bytes, size_t size);

    const std::map<std::string, TensorView>& tensors() const { return tensors_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    const std::string& path() const { return map_->path(); }
    Residency residency() const { return map_->residency(); }

private:
    // The header from `head` (the file's first head_size >= 8 + N bytes) for a file of file_size
    // bytes; a tensor's data is place(its file offset, its size).
    using Place = std::function<const uint8_t*(uint64_t off, uint64_t nbytes)>;
    static std::map<std::string, TensorView> parse_header_in(const std::string& file, const uint8_t* head,
                                                             size_t head_size, uint64_t file_size, const Place& place);
    std::unique_ptr<MappedFile> map_;
    std::map<std::string, TensorView> tensors_;
    std::map<std::string, std::string> metadata_;
};

// One tensor to write: raw little-endian bytes in the given dtype.
struct TensorOut {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    const void* data;
    size_t nbytes;
};

void write_safetensors(const std::string& path, const std::vector<TensorOut>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace dsv4
