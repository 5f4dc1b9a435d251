// dsv4 tokenize / detokenize: batch text <-> ids with a tokenizer.json.
//   dsv4 tokenize   --tokenizer FILE --input IN.json  --out OUT.json   (IN: ["text", ...] -> OUT: [[ids], ...])
//   dsv4 tokenize   --tokenizer FILE --text "..."                      (prints the ids as a JSON array)
//   dsv4 detokenize --tokenizer FILE --input IDS.json --out TEXTS.json (IDS: [[ids], ...] -> ["text", ...])
//   dsv4 detokenize --tokenizer FILE --text "1,2,3" | "[1,2,3]"       (prints the text)
// No BOS/EOS is added; added tokens in the text are matched.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "io/json_file.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::cli {

namespace {

using nlohmann::json;

void write_json(const std::string& path, const json& j) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error(path + ": cannot open output file for writing");
    f << j.dump() << '\n';
    f.close();
    if (!f) throw std::runtime_error(path + ": write error");
}

// Ids of one JSON array, checked against the vocabulary. `where` names it in errors.
std::vector<int32_t> parse_ids(const json& a, const Tokenizer& tok, const std::string& where) {
    if (!a.is_array()) throw std::runtime_error(where + ": expected an array of token ids");
    std::vector<int32_t> ids;
    ids.reserve(a.size());
    for (size_t k = 0; k < a.size(); ++k) {
        const json& v = a[k];
        if (!v.is_number_integer())
            throw std::runtime_error(where + "[" + std::to_string(k) + "]: expected an integer token id, got " + v.dump());
        int64_t id = v.get<int64_t>();
        if (id < 0 || uint64_t(id) >= tok.vocab_size())
            throw std::runtime_error(where + "[" + std::to_string(k) + "]: token id " + std::to_string(id) +
                                     " is out of range (vocab size " + std::to_string(tok.vocab_size()) + ")");
        ids.push_back(int32_t(id));
    }
    return ids;
}

// Decodes with the vocabulary check done; ids inside the range but unassigned are reported too.
std::string decode_checked(const Tokenizer& tok, const std::vector<int32_t>& ids, const std::string& where) {
    try {
        return tok.decode(ids);
    } catch (const std::out_of_range& e) {
        throw std::runtime_error(where + ": " + e.what());
    }
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
    Args args(argc, argv, 1, {});
    const std::string tok_path = args.require("tokenizer");
    auto text = args.get("text");
    auto input = args.get("input");
    auto out = args.get("out");
    args.reject_unused("tokenize");
    if (text && (input || out)) throw std::invalid_argument("give either --text or --input/--out, not both");
    if (!text && (!input || !out)) throw std::invalid_argument("missing --input IN.json and --out OUT.json (or --text)");

    const Tokenizer tok = Tokenizer::from_file(tok_path);
    if (text) {
        std::cout << json(tok.encode(*text)).dump() << '\n';
        return 0;
    }
    const json in = read_json_file(*input, "input file");
    if (!in.is_array()) throw std::runtime_error(*input + ": expected a JSON array of strings");
    json result = json::array();
    for (size_t i = 0; i < in.size(); ++i) {
        if (!in[i].is_string())
            throw std::runtime_error(*input + ": [" + std::to_string(i) + "]: expected a string, got " +
                                     std::string(in[i].type_name()));
        result.push_back(tok.encode(in[i].get_ref<const std::string&>()));
    }
    write_json(*out, result);
    return 0;
}

int cmd_detokenize(int argc, char** argv) {
    Args args(argc, argv, 1, {});
    const std::string tok_path = args.require("tokenizer");
    auto text = args.get("text");
    auto input = args.get("input");
    auto out = args.get("out");
    args.reject_unused("detokenize");
    if (text && (input || out)) throw std::invalid_argument("give either --text or --input/--out, not both");
    if (!text && (!input || !out)) throw std::invalid_argument("missing --input IDS.json and --out TEXTS.json (or --text)");

    const Tokenizer tok = Tokenizer::from_file(tok_path);
    if (text) {
        // "1,2,3" or "[1, 2, 3]"
        std::string s = *text;
        size_t b = s.find_first_not_of(" \t\r\n");
        if (b == std::string::npos || s[b] != '[') s = "[" + s + "]";
        json ids;
        try {
            ids = json::parse(s);
        } catch (const json::parse_error&) {
            throw std::runtime_error("--text: expected token ids like \"1,2,3\" or \"[1,2,3]\", got '" + *text + "'");
        }
        std::cout << decode_checked(tok, parse_ids(ids, tok, "--text"), "--text") << '\n';
        return 0;
    }
    const json in = read_json_file(*input, "input file");
    if (!in.is_array()) throw std::runtime_error(*input + ": expected a JSON array of arrays of token ids");
    json result = json::array();
    for (size_t i = 0; i < in.size(); ++i) {
        const std::string where = *input + ": [" + std::to_string(i) + "]";
        result.push_back(decode_checked(tok, parse_ids(in[i], tok, where), where));
    }
    write_json(*out, result);
    return 0;
}

}  // namespace dsv4::cli
