// dsv4 chat-template / chat-parse: the DeepSeek-V4 chat format (docs/dsv4-chat.md) from the command line.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/parse.h"
#include "chat/request.h"
#include "cli/commands.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::cli {

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read '" + path + "'");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

nlohmann::ordered_json read_request(const std::string& path) {
    const std::string body = read_file(path);
    try {
        return nlohmann::ordered_json::parse(body);
    } catch (const nlohmann::json::parse_error& e) {
        throw std::runtime_error("'" + path + "' is not valid JSON: " + e.what());
    }
}

std::string dump(const nlohmann::ordered_json& j) {
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

// dsv4 chat-template --request REQ.json [--ids --tokenizer tokenizer.json]
int cmd_chat_template(int argc, char** argv) {
    Args a(argc, argv, 1, {"ids"});
    const std::string req_path = a.require("request");
    const bool ids = a.flag("ids");
    const auto tokenizer = a.get("tokenizer");
    a.reject_unused("chat-template", /*positional_ok=*/true);
    if (tokenizer && !ids) throw std::invalid_argument("--tokenizer is only used with --ids");
    const auto rendered = chat::render_prompt(read_request(req_path));
    if (ids) {
        if (!tokenizer) throw std::invalid_argument("--ids needs --tokenizer FILE (the checkpoint's tokenizer.json)");
        // §1: the prompt already holds BOS as text; encode adds nothing.
        const auto tok = Tokenizer::from_file(*tokenizer);
        const std::string out = nlohmann::json(tok.encode(rendered.text)).dump() + "\n";  // one JSON array
        std::fwrite(out.data(), 1, out.size(), stdout);
        return 0;
    }
    std::fwrite(rendered.text.data(), 1, rendered.text.size(), stdout);
    return 0;
}

// dsv4 chat-parse --request REQ.json --completion FILE [--stream]
int cmd_chat_parse(int argc, char** argv) {
    Args a(argc, argv, 1, {"stream"});
    const std::string req_path = a.require("request");
    const std::string completion_path = a.require("completion");
    const bool stream = a.flag("stream");
    a.reject_unused("chat-parse", /*positional_ok=*/true);
    const auto options = chat::read_chat_options(read_request(req_path));
    const std::string completion = read_file(completion_path);
    if (stream) {  // one delta object per line, the completion fed one byte at a time
        chat::StreamParser sp(options.thinking);
        auto print = [](const std::vector<chat::StreamDelta>& ds) {
            for (const auto& d : ds) std::printf("%s\n", dump(chat::to_openai_delta(d)).c_str());
        };
        for (char c : completion) print(sp.feed(std::string_view(&c, 1)));
        print(sp.finish());
        if (sp.malformed()) std::fprintf(stderr, "dsv4 chat-parse: warning: malformed model output (%s)\n", sp.malformed()->c_str());
        return 0;
    }
    const auto msg = chat::parse_completion(completion, options.thinking);
    if (msg.malformed)
        std::fprintf(stderr, "dsv4 chat-parse: warning: malformed model output (%s); returned as content\n",
                     msg.malformed->c_str());
    std::printf("%s\n", dump(chat::to_openai_message(msg)).c_str());
    return 0;
}

}  // namespace dsv4::cli
