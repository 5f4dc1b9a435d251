#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenizer.h"

namespace dsv4 {

using nlohmann::json;
using namespace tok;

struct Tokenizer::Impl {
    std::string file;
    ByteLevelAlphabet alphabet;
    std::unique_ptr<BpeModel> bpe;
    std::unique_ptr<PreTokenizer> pre_tokenizer;
    std::vector<AddedToken> added;               // in file order
    std::vector<const AddedToken*> added_by_id;  // indexed by id
    TokenMap added_by_content;
    AddedTokenMatcher raw_matcher;         // normalized == false: searched in the original text
    AddedTokenMatcher normalized_matcher;  // normalized == true: searched in what is left
    bool byte_level_decoder = true;        // false: no decoder, tokens joined by spaces (HF)
    size_t vocab_size = 0;

    void encode_text(std::string_view text, std::vector<int32_t>& out, PieceBuffer& buf) const {
        pre_tokenize(pre_tokenizer.get(), text, buf);
        for (std::string_view piece : buf.pieces) bpe->encode_piece(piece, out);
        buf.arena.clear();
    }
};

namespace {

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error(path + ": cannot open tokenizer file");
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// Only normalizers that leave the text unchanged are supported (DeepSeek: an empty Sequence).
void check_normalizer(const json& n, const std::string& where) {
    if (n.is_null()) return;
    std::string type = n.is_object() && n.contains("type") && n["type"].is_string() ? n["type"].get<std::string>() : "?";
    if (type == "Sequence" && n.contains("normalizers") && n["normalizers"].is_array()) {
        for (size_t i = 0; i < n["normalizers"].size(); ++i)
            check_normalizer(n["normalizers"][i], where + ".normalizers[" + std::to_string(i) + "]");
        return;
    }
    throw std::runtime_error(where + ": unsupported normalizer type '" + type + "'");
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_file(const std::string& path) {
    auto impl = std::make_unique<Impl>();
    impl->file = path;
    json j;
    try {
        j = json::parse(read_file(path));
    } catch (const json::exception& e) {
        throw std::runtime_error(path + ": not valid JSON: " + e.what());
    }
    if (!j.is_object()) throw std::runtime_error(path + ": expected a JSON object (tokenizer.json)");
    try {
        // model
        if (!j.contains("model") || !j["model"].is_object()) throw std::runtime_error(path + ": missing \"model\"");
        const json& model = j["model"];
        std::string type = model.contains("type") && model["type"].is_string() ? model["type"].get<std::string>() : "";
        if (type.empty() && model.contains("merges")) type = "BPE";  // old files omit the type
        if (type != "BPE")
            throw std::runtime_error(path + ": model: unsupported model type '" + (type.empty() ? "?" : type) +
                                     "' (only byte-level BPE)");
        check_normalizer(j.value("normalizer", json()), path + ": normalizer");
        impl->pre_tokenizer = make_pre_tokenizer(j.value("pre_tokenizer", json()), path);
        impl->bpe = std::make_unique<BpeModel>(model, path, impl->alphabet);

        const json dec = j.value("decoder", json());
        if (dec.is_null()) {
            impl->byte_level_decoder = false;
        } else {
            std::string dt = dec.is_object() && dec.contains("type") && dec["type"].is_string() ? dec["type"].get<std::string>() : "?";
            if (dt != "ByteLevel") throw std::runtime_error(path + ": decoder: unsupported decoder type '" + dt + "'");
        }

        // added tokens
        const json at = j.value("added_tokens", json::array());
        if (!at.is_array()) throw std::runtime_error(path + ": added_tokens: expected an array");
        impl->added.reserve(at.size());
        for (size_t i = 0; i < at.size(); ++i) {
            const json& t = at[i];
            const std::string where = path + ": added_tokens[" + std::to_string(i) + "]";
            if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
                !t["content"].is_string())
                throw std::runtime_error(where + ": expected {\"id\": int, \"content\": string, ...}");
            AddedToken a;
            a.content = t["content"].get<std::string>();
            int64_t id = t["id"].get<int64_t>();
            if (id < 0 || id > INT32_MAX) throw std::runtime_error(where + ".id: out of range");
            a.id = int32_t(id);
            a.single_word = t.value("single_word", false);
            a.lstrip = t.value("lstrip", false);
            a.rstrip = t.value("rstrip", false);
            a.normalized = t.value("normalized", !t.value("special", false));
            a.special = t.value("special", false);
            impl->added.push_back(std::move(a));
        }
        for (const AddedToken& a : impl->added) {
            if (size_t(a.id) >= impl->added_by_id.size()) impl->added_by_id.resize(size_t(a.id) + 1, nullptr);
            impl->added_by_id[a.id] = &a;
            impl->added_by_content.emplace(a.content, a.id);
            (a.normalized ? impl->normalized_matcher : impl->raw_matcher).add(&a);
        }
        impl->vocab_size = std::max(impl->bpe->max_id_plus_one(), impl->added_by_id.size());
    } catch (const json::exception& e) {
        throw std::runtime_error(path + ": unexpected tokenizer.json structure: " + e.what());
    }
    return Tokenizer(std::move(impl));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
    const Impl& m = *impl_;
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 4);
    PieceBuffer buf;
    std::vector<AddedTokenMatcher::Split> outer, inner;
    m.raw_matcher.split(text, 0, text.size(), outer);
    for (const auto& s : outer) {
        if (s.token) {
            out.push_back(s.token->id);
            continue;
        }
        if (m.normalized_matcher.empty()) {
            m.encode_text(text.substr(s.begin, s.end - s.begin), out, buf);
            continue;
        }
        inner.clear();
        m.normalized_matcher.split(text, s.begin, s.end, inner);
        for (const auto& t : inner) {
            if (t.token) out.push_back(t.token->id);
            else m.encode_text(text.substr(t.begin, t.end - t.begin), out, buf);
        }
    }
    return out;
}

bool Tokenizer::contains(int32_t id) const {
    const Impl& m = *impl_;
    if (id >= 0 && size_t(id) < m.added_by_id.size() && m.added_by_id[id]) return true;
    return m.bpe->id_to_token(id) != nullptr;
}

std::string Tokenizer::token_bytes(int32_t id) const {
    const Impl& m = *impl_;
    const std::string* s = nullptr;
    if (id >= 0 && size_t(id) < m.added_by_id.size() && m.added_by_id[id]) s = &m.added_by_id[id]->content;
    if (!s) s = m.bpe->id_to_token(id);
    if (!s)
        throw std::out_of_range("token id " + std::to_string(id) + " is not in the vocabulary of " + m.file +
                                " (size " + std::to_string(m.vocab_size) + ")");
    std::string out;
    // As HF's ByteLevel decoder: a token whose characters are all in the byte alphabet becomes
    // those bytes; any other token (e.g. "<｜User｜>") is taken literally.
    if (!m.byte_level_decoder || !m.alphabet.decode(*s, out)) out = *s;
    return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
    std::string bytes;
    bytes.reserve(ids.size() * 4);
    for (size_t i = 0; i < ids.size(); ++i) {
        if (!impl_->byte_level_decoder && i > 0) bytes += ' ';
        bytes += token_bytes(ids[i]);
    }
    std::string out;
    out.reserve(bytes.size());
    append_utf8_lossy(bytes, out);
    return out;
}

int32_t Tokenizer::token_id(std::string_view token) const {
    if (auto it = impl_->added_by_content.find(token); it != impl_->added_by_content.end()) return it->second;
    if (auto it = impl_->bpe->vocab().find(token); it != impl_->bpe->vocab().end()) return it->second;
    return -1;
}

size_t Tokenizer::vocab_size() const { return impl_->vocab_size; }

bool Tokenizer::is_special(int32_t id) const {
    const auto& v = impl_->added_by_id;
    return id >= 0 && size_t(id) < v.size() && v[id] && v[id]->special;
}

std::string StreamDecoder::push(int32_t id) {
    if (!tok_->contains(id)) return {};
    pending_ += tok_->token_bytes(id);
    size_t tail = utf8_incomplete_tail(pending_);
    std::string out;
    append_utf8_lossy(std::string_view(pending_).substr(0, pending_.size() - tail), out);
    pending_.erase(0, pending_.size() - tail);
    return out;
}

std::string StreamDecoder::flush() {
    std::string out;
    append_utf8_lossy(pending_, out);
    pending_.clear();
    return out;
}

}  // namespace dsv4
