#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace dsv4 {

using json = nlohmann::json;

const char* residency_name(Residency r) { return r == Residency::Resident ? "resident" : "mapped"; }

MappedFile::MappedFile(const std::string& path, Residency residency,
                       const std::vector<std::pair<uint64_t, uint64_t>>& aligned)
    : path_(path), residency_(residency) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (fstat(fd, &st) != 0) throw std::runtime_error(path + ": cannot stat: " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw std::runtime_error(path + ": not a regular file");
    size_ = size_t(st.st_size);
    if (size_ == 0) return;
    if (residency == Residency::Mapped) {
        void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) throw std::runtime_error(path + ": cannot mmap: " + std::strerror(errno));
        map_base_ = p;
        map_len_ = size_;
        data_ = static_cast<const uint8_t*>(p);
        return;
    }
    // Resident: the file's runs (the bytes before the first aligned range, then each range with
    // what follows it) at their memory offsets.
    segments_.push_back({0, 0});
    uint64_t mem = 0;  // memory offset of the current segment's start
    for (const auto& [b, e] : aligned) {
        const Segment& cur = segments_.back();
        if (b < cur.file_off || e < b || e > size_)
            throw std::logic_error(path + ": MappedFile: aligned ranges must be sorted, disjoint and inside the file");
        const uint64_t at = cur.mem_off + (b - cur.file_off);
        mem = (at + 63) & ~uint64_t(63);
        if (b == cur.file_off && segments_.size() > 1) segments_.back().mem_off = mem;  // an empty range before
        else segments_.push_back({b, mem});
    }
    const uint64_t mem_size = segments_.back().mem_off + (size_ - segments_.back().file_off);
    // Anonymous memory aligned to 2 MB (so whole huge pages cover it), huge pages requested before
    // the first touch, then the file read in steps of at most 64 MB.
    constexpr size_t kHuge = size_t(2) << 20;
    map_len_ = size_t(mem_size) + kHuge;
    void* p = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        throw std::runtime_error(path + ": cannot allocate " + std::to_string(mem_size) + " bytes: " + std::strerror(errno));
    map_base_ = p;
    auto* a = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~uintptr_t(kHuge - 1));
#ifdef MADV_HUGEPAGE
    madvise(a, size_t(mem_size), MADV_HUGEPAGE);  // a hint: without THP the pages are just 4 KB
#endif
    data_ = a;
    constexpr size_t kStep = size_t(64) << 20;
    uint64_t dropped = 0;  // the page cache's copy of [0, dropped) is let go, in steps of >= 64 MB
    for (size_t i = 0; i < segments_.size(); ++i) {
        const uint64_t f0 = segments_[i].file_off, f1 = i + 1 < segments_.size() ? segments_[i + 1].file_off : size_;
        uint8_t* dst = a + segments_[i].mem_off;
        for (uint64_t got = 0; got < f1 - f0;) {
            const ssize_t r = ::pread(fd, dst + got, size_t(std::min<uint64_t>(kStep, f1 - f0 - got)), off_t(f0 + got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                const std::string why = r < 0 ? std::strerror(errno) : "file shrank while being read";
                munmap(map_base_, map_len_);
                throw std::runtime_error(path + ": read failed at byte " + std::to_string(f0 + got) + ": " + why);
            }
            got += uint64_t(r);
#ifdef POSIX_FADV_DONTNEED
            // no second copy in the page cache (not per tensor: each call costs ~0.2 ms)
            if (f0 + got - dropped >= kStep || (f0 + got == f1 && i + 1 == segments_.size())) {
                posix_fadvise(fd, off_t(dropped), off_t(f0 + got - dropped), POSIX_FADV_DONTNEED);
                dropped = f0 + got;
            }
#endif
        }
    }
    mprotect(a, size_t(mem_size), PROT_READ);
}

const uint8_t* MappedFile::at(uint64_t off) const {
    if (segments_.size() <= 1) return data_ + off;
    auto it = std::upper_bound(segments_.begin(), segments_.end(), off,
                               [](uint64_t o, const Segment& s) { return o < s.file_off; });
    --it;  // segments_[0].file_off == 0
    return data_ + it->mem_off + (off - it->file_off);
}

MappedFile::~MappedFile() {
    if (map_base_) munmap(map_base_, map_len_);
}

int64_t TensorView::numel() const {
    int64_t n = 1;
    for (auto s : shape) n *= s;
    return n;
}

std::vector<int64_t> TensorView::ints() const {
    if (dtype != DType::I64 && dtype != DType::I32)
        throw std::runtime_error(file + ": tensor '" + name + "': dtype " + dtype_name(dtype) + ", expected I32 or I64");
    std::vector<int64_t> v(static_cast<size_t>(numel()));
    for (size_t i = 0; i < v.size(); ++i) {
        if (dtype == DType::I64) std::memcpy(&v[i], data + 8 * i, 8);
        else {
            int32_t y;
            std::memcpy(&y, data + 4 * i, 4);
            v[i] = y;
        }
    }
    return v;
}

std::string TensorView::shape_str() const {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

std::map<std::string, TensorView> SafetensorsFile::parse_header_in(const std::string& file, const uint8_t* bytes,
                                                                   size_t head_size, uint64_t size, const Place& place) {
    auto fail = [&](const std::string& what) -> std::runtime_error {
        return std::runtime_error(file + ": " + what);
    };
    if (size < 8 || head_size < 8)
        throw fail("truncated: " + std::to_string(size) + " bytes, no room for the 8-byte header length");
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(bytes[i]) << (8 * i);
    if (n > size - 8)
        throw fail("truncated: header length " + std::to_string(n) + " runs past the end of the file (" +
                   std::to_string(size) + " bytes)");
    if (n > head_size - 8) throw std::logic_error(file + ": parse_header_in: the header was not read whole");
    json h;
    try {
        h = json::parse(bytes + 8, bytes + 8 + n);
    } catch (const json::exception& e) {
        throw fail(std::string("header is not valid JSON: ") + e.what());
    }
    if (!h.is_object()) throw fail("header is not a JSON object");
    const uint64_t data_size = size - 8 - n;

    std::map<std::string, TensorView> out;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    std::vector<std::string> range_names;
    for (auto& [name, v] : h.items()) {
        if (name == "__metadata__") {
            if (!v.is_object()) throw fail("__metadata__ is not an object");
            continue;
        }
        auto where = "tensor '" + name + "': ";
        if (!v.is_object()) throw fail(where + "entry is not an object");
        if (!v.contains("dtype") || !v["dtype"].is_string()) throw fail(where + "missing or non-string 'dtype'");
        auto dt = dtype_from_name(v["dtype"].get<std::string>());
        if (!dt) throw fail(where + "unknown dtype '" + v["dtype"].get<std::string>() + "'");
        if (!v.contains("shape") || !v["shape"].is_array()) throw fail(where + "missing or non-array 'shape'");
        TensorView t;
        t.name = name;
        t.dtype = *dt;
        t.file = file;
        uint64_t numel = 1;
        for (auto& s : v["shape"]) {
            if (!s.is_number_integer() || s.get<int64_t>() < 0) throw fail(where + "shape has a non-integer or negative dimension");
            uint64_t d = s.get<uint64_t>();
            if (d > (uint64_t(1) << 48) || (d && numel > (uint64_t(1) << 62) / d)) throw fail(where + "shape is too large");
            numel *= d;
            t.shape.push_back(int64_t(d));
        }
        auto& off = v["data_offsets"];
        if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
            throw fail(where + "'data_offsets' must be two non-negative integers");
        uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
        if (b > e) throw fail(where + "data_offsets begin " + std::to_string(b) + " > end " + std::to_string(e));
        if (e > data_size)
            throw fail(where + "data_offsets end " + std::to_string(e) + " runs past the end of the data (" +
                       std::to_string(data_size) + " bytes): the file is truncated or the header is wrong");
        uint64_t expect = numel * dtype_size(*dt);
        if (e - b != expect)
            throw fail(where + "holds " + std::to_string(e - b) + " bytes but " + dtype_name(*dt) + " " +
                       t.shape_str() + " needs " + std::to_string(expect));
        t.data = place(8 + n + b, e - b);
        t.nbytes = size_t(e - b);
        ranges.emplace_back(b, e);
        range_names.push_back(name);
        out.emplace(name, std::move(t));
    }
    // No two tensors may share bytes.
    std::vector<size_t> idx(ranges.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return ranges[a] < ranges[b]; });
    for (size_t k = 1; k < idx.size(); ++k) {
        auto& prev = ranges[idx[k - 1]];
        auto& cur = ranges[idx[k]];
        if (cur.first < prev.second && cur.second > cur.first && prev.second > prev.first)
            throw fail("tensors '" + range_names[idx[k - 1]] + "' and '" + range_names[idx[k]] +
                       "' overlap in the data region");
    }
    return out;
}

std::map<std::string, TensorView> SafetensorsFile::parse_header(const std::string& file, const uint8_t* bytes,
                                                                size_t size) {
    return parse_header_in(file, bytes, size, size, [bytes](uint64_t off, uint64_t) { return bytes + off; });
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path, Residency residency) {
    auto f = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
    // Resident: the header is validated first (a map of the file touches only its pages) and
    // says where the tensors are, each of which then starts on a 64-byte boundary in memory.
    std::vector<std::pair<uint64_t, uint64_t>> aligned;
    if (residency == Residency::Resident) {
        const MappedFile whole(path, Residency::Mapped);
        parse_header_in(path, whole.data(), whole.size(), whole.size(), [&](uint64_t off, uint64_t nbytes) {
            aligned.emplace_back(off, off + nbytes);
            return static_cast<const uint8_t*>(nullptr);
        });
        std::sort(aligned.begin(), aligned.end());
    }
    f->map_ = std::make_unique<MappedFile>(path, residency, aligned);
    const MappedFile* m = f->map_.get();
    // (the header lies before the first tensor: contiguous at data() in both residencies)
    f->tensors_ = parse_header_in(path, m->data(), m->size(), m->size(),
                                  [m](uint64_t off, uint64_t) { return m->at(off); });
    // Metadata (string values only, as the format says).
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(f->map_->data()[i]) << (8 * i);
    auto h = json::parse(f->map_->data() + 8, f->map_->data() + 8 + n);
    if (h.contains("__metadata__"))
        for (auto& [k, v] : h["__metadata__"].items())
            if (v.is_string()) f->metadata_[k] = v.get<std::string>();
    return f;
}

void write_safetensors(const std::string& path, const std::vector<TensorOut>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    // The data region starts on a 64-byte boundary and holds first the tensors whose sizes are
    // multiples of 64, so that those (the weights) stay on 64-byte boundaries when the file is
    // memory-mapped (the format allows no holes between tensors, only spaces after the header).
    std::vector<const TensorOut*> order;
    for (auto& t : tensors)
        if (t.nbytes % 64 == 0) order.push_back(&t);
    for (auto& t : tensors)
        if (t.nbytes % 64 != 0) order.push_back(&t);
    json h = json::object();
    if (!metadata.empty()) h["__metadata__"] = metadata;
    uint64_t off = 0;
    for (const TensorOut* t : order) {
        h[t->name] = {{"dtype", dtype_name(t->dtype)}, {"shape", t->shape}, {"data_offsets", {off, off + t->nbytes}}};
        off += t->nbytes;
    }
    std::string hs = h.dump();
    while ((hs.size() + 8) % 64) hs.push_back(' ');
    std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) throw std::runtime_error(path + ": cannot open for writing");
        uint64_t n = hs.size();
        unsigned char len[8];
        for (int i = 0; i < 8; ++i) len[i] = (n >> (8 * i)) & 0xff;
        f.write(reinterpret_cast<const char*>(len), 8);
        f.write(hs.data(), std::streamsize(hs.size()));
        for (const TensorOut* t : order) f.write(static_cast<const char*>(t->data), std::streamsize(t->nbytes));
        if (!f) throw std::runtime_error(path + ": write failed");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error(path + ": cannot rename " + tmp);
}

}  // namespace dsv4
