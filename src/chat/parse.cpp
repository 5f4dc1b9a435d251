// Parsing model output (docs/dsv4-chat.md §4). parse_completion() runs the streaming parser over the whole
// text, so both agree by construction; the whole-text parse adds the checks that need the entire text.
#include "chat/parse.h"

#include <algorithm>
#include <initializer_list>
#include <vector>

#include "chat/pyjson.h"

namespace dsv4::chat {

namespace {

struct Found {
    bool found = false;
    size_t which = 0;  // index into the stops
    size_t start = 0;  // where the stop begins
    size_t after = 0;  // just past it
};

Found find_first(std::string_view s, size_t pos, std::initializer_list<std::string_view> stops) {
    Found f;
    size_t i = 0;
    for (auto stop : stops) {
        const size_t p = s.find(stop, pos);
        if (p != std::string_view::npos && (!f.found || p < f.start)) f = {true, i, p, p + stop.size()};
        ++i;
    }
    return f;
}

// Length of the longest proper prefix of `marker` that `s` ends with.
size_t partial_suffix(std::string_view s, std::string_view marker) {
    for (size_t k = std::min(s.size(), marker.size() - 1); k > 0; --k)
        if (s.substr(s.size() - k) == marker.substr(0, k)) return k;
    return 0;
}

// Largest n' <= n such that s[0, n') does not end inside a UTF-8 character.
size_t utf8_boundary(std::string_view s, size_t n) {
    for (size_t back = 1; back <= 4 && back <= n; ++back) {
        const auto c = static_cast<unsigned char>(s[n - back]);
        if ((c & 0xC0) == 0x80) continue;  // continuation byte
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
        return back < len ? n - back : n;
    }
    return n;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

struct BlockResult {
    enum Status { ok, incomplete, error } status = incomplete;
    size_t end = 0;  // ok: just past the closing tag
    std::vector<ToolCall> calls;
    std::string why;
};

// The grammar of §3.8, read back. `s` starts just after "\n\n<｜DSML｜tool_calls".
BlockResult parse_tool_block(std::string_view s, const ChatFormat& fmt, std::string_view id_prefix, size_t first_index) {
    const std::string invoke_open = fmt.tag_open(fmt.invoke_name);
    std::string invoke_end = fmt.tag_close(fmt.invoke_name);  // "</｜DSML｜invoke", its '>' is read after
    invoke_end.pop_back();
    const std::string param_open = fmt.tag_open(fmt.parameter_name);
    std::string param_end = fmt.tag_close(fmt.parameter_name).substr(1);  // "/｜DSML｜parameter": '<' ends
    param_end.pop_back();                                                  // the value, '>' is read after
    const std::string block_close = fmt.tag_close(fmt.tool_calls_name);
    BlockResult r;
    auto fail = [&](std::string why) {
        r.status = BlockResult::error;
        r.why = std::move(why);
        return r;
    };
    size_t pos = 0;
    while (true) {
        Found f = find_first(s, pos, {invoke_open, block_close});
        if (!f.found) return r;  // incomplete
        if (s.substr(pos, f.start - pos) != ">\n") return fail("tool-call block: expected '>\\n' before an invoke");
        pos = f.after;
        if (f.which == 1) {
            r.status = BlockResult::ok;
            r.end = pos;
            return r;
        }
        f = find_first(s, pos, {param_open, invoke_end});
        if (!f.found) return r;
        std::string_view head = s.substr(pos, f.start - pos);  // ` name="NAME">\n`
        pos = f.after;
        while (!head.empty() && is_space(head.front())) head.remove_prefix(1);
        // `name="NAME">\n`, plus one more '\n' when the invoke has no parameter (the reference's regex ends
        // in `">\n$`, and `$` also matches before a final newline).
        constexpr std::string_view name_pre = "name=\"";
        std::string_view name_post = head.ends_with("\">\n\n") ? "\">\n\n" : "\">\n";
        if (!head.starts_with(name_pre) || !head.ends_with(name_post) || head.size() < name_pre.size() + name_post.size())
            return fail("tool-call block: bad invoke name");
        ToolCall call;
        call.name = std::string(head.substr(name_pre.size(), head.size() - name_pre.size() - name_post.size()));
        call.id = std::string(id_prefix) + std::to_string(first_index + r.calls.size());
        std::vector<std::string> keys;
        std::string args = "{";
        while (f.which == 0) {  // a parameter
            Found e = find_first(s, pos, {param_end});
            if (!e.found) return r;
            std::string_view p = s.substr(pos, e.start - pos);  // ` name="KEY" string="true">VALUE<`
            pos = e.after;
            constexpr std::string_view key_pre = " name=\"", sep = "\" string=\"";
            const size_t tail = p.ends_with("<") ? 1 : p.ends_with("<\n") ? 2 : 0;  // `<$` as in the reference
            if (!p.starts_with(key_pre) || tail == 0 || p.size() < key_pre.size() + tail)
                return fail("tool-call block: bad parameter");
            p = p.substr(key_pre.size(), p.size() - key_pre.size() - tail);
            bool matched = false, is_string = false;
            std::string_view key, value;
            for (size_t k = p.find(sep); k != std::string_view::npos; k = p.find(sep, k + 1)) {
                std::string_view rest = p.substr(k + sep.size());
                for (bool t : {true, false}) {
                    std::string_view flag = t ? "true\">" : "false\">";
                    if (rest.starts_with(flag)) {
                        matched = true;
                        is_string = t;
                        key = p.substr(0, k);
                        value = rest.substr(flag.size());
                    }
                }
                if (matched) break;
            }
            if (!matched) return fail("tool-call block: bad parameter");
            if (std::find(keys.begin(), keys.end(), key) != keys.end())
                return fail("tool-call block: duplicate parameter '" + std::string(key) + "'");
            if (!is_string && !nlohmann::json::accept(value))
                return fail("tool-call block: parameter '" + std::string(key) + "' is not valid JSON");
            if (!keys.empty()) args += ", ";
            keys.emplace_back(key);
            args += py_dumps_string(key) + ": " + (is_string ? py_dumps_string(value) : std::string(value));
            f = find_first(s, pos, {param_open, invoke_end});
            if (!f.found) return r;
            if (s.substr(pos, f.start - pos) != ">\n") return fail("tool-call block: expected '>\\n' after a parameter");
            pos = f.after;
        }
        call.arguments = args + "}";
        r.calls.push_back(std::move(call));
    }
}

}  // namespace

StreamParser::StreamParser(bool thinking, const ChatFormat& format, std::string_view id_prefix)
    : fmt_(&format),
      id_prefix_(id_prefix),
      think_close_(format.think_close),
      eos_(format.eos),
      tool_calls_start_(format.tool_calls_start()),
      tool_calls_close_(format.tag_close(format.tool_calls_name)),
      state_(thinking ? State::reasoning : State::content) {}

std::vector<StreamDelta> StreamParser::feed(std::string_view text) {
    buf_.append(text);
    return drain(false);
}

std::vector<StreamDelta> StreamParser::finish() { return drain(true); }

void StreamParser::set_malformed(std::string why) {
    if (!malformed_) malformed_ = std::move(why);
}

void StreamParser::emit_text(std::vector<StreamDelta>& out, DeltaKind kind, std::string_view text) {
    if (text.empty()) return;
    if (!out.empty() && out.back().kind == kind) {
        out.back().text += text;
        return;
    }
    StreamDelta d;
    d.kind = kind;
    d.text = std::string(text);
    out.push_back(std::move(d));
}

std::vector<StreamDelta> StreamParser::drain(bool final) {
    std::vector<StreamDelta> out;
    while (true) {
        switch (state_) {
            case State::reasoning:
            case State::content:
            case State::raw: {
                const DeltaKind kind = state_ == State::reasoning ? DeltaKind::reasoning : DeltaKind::content;
                // §4: reasoning runs to </think>; content to EOS or the tool-call block; raw (after a grammar
                // error) to EOS.
                std::vector<std::string_view> stops;
                if (state_ == State::reasoning) stops = {think_close_, tool_calls_start_, eos_};
                else if (state_ == State::content) stops = {eos_, tool_calls_start_};
                else stops = {eos_};
                Found f;
                for (size_t i = 0; i < stops.size(); ++i) {
                    const size_t p = buf_.find(stops[i]);
                    if (p != std::string::npos && (!f.found || p < f.start)) f = {true, i, p, p + stops[i].size()};
                }
                if (f.found) {
                    emit_text(out, kind, std::string_view(buf_).substr(0, f.start));
                    const std::string_view stop = stops[f.which];
                    buf_.erase(0, f.after);
                    if (stop == think_close_) {
                        state_ = State::content;
                    } else if (stop == eos_) {
                        if (state_ == State::reasoning) set_malformed("reasoning ended without </think>");
                        state_ = State::done;
                    } else if (state_ == State::reasoning) {  // a tool-call block inside the reasoning
                        set_malformed("tool-call block before </think>");
                        buf_.insert(0, tool_calls_start_);
                        state_ = State::raw;
                    } else {
                        state_ = State::tool_block;
                        close_scan_ = 0;
                    }
                    continue;
                }
                if (final) {
                    if (state_ == State::reasoning) set_malformed("reasoning ended without </think>");
                    emit_text(out, kind, buf_);
                    buf_.clear();
                    state_ = State::done;
                    return out;
                }
                size_t hold = 0;
                for (auto stop : stops) hold = std::max(hold, partial_suffix(buf_, stop));
                const size_t n = utf8_boundary(buf_, buf_.size() - hold);
                emit_text(out, kind, std::string_view(buf_).substr(0, n));
                buf_.erase(0, n);
                return out;
            }
            case State::tool_block: {
                // Held until complete (§4). Parse when the closing tag shows up (it may also sit inside a
                // parameter value, then the parse says incomplete) or at the end.
                const size_t p = buf_.find(tool_calls_close_, close_scan_);
                if (p == std::string::npos && !final) {
                    close_scan_ = buf_.size() >= tool_calls_close_.size() ? buf_.size() - tool_calls_close_.size() + 1 : 0;
                    return out;
                }
                BlockResult r = parse_tool_block(buf_, *fmt_, id_prefix_, n_calls_);
                if (r.status == BlockResult::ok) {
                    for (auto& c : r.calls) {
                        StreamDelta d;
                        d.kind = DeltaKind::tool_call;
                        d.tool_call = std::move(c);
                        d.index = n_calls_++;
                        out.push_back(std::move(d));
                    }
                    buf_.erase(0, r.end);
                    state_ = State::after_block;
                    continue;
                }
                if (r.status == BlockResult::incomplete && !final) {
                    close_scan_ = p + 1;
                    return out;
                }
                set_malformed(r.status == BlockResult::error ? r.why : "tool-call block not closed");
                buf_.insert(0, tool_calls_start_);
                state_ = State::raw;
                continue;
            }
            case State::after_block: {
                // §4: nothing but EOS may follow the block.
                if (buf_.starts_with(eos_)) {
                    buf_.erase(0, eos_.size());
                    state_ = State::done;
                    continue;
                }
                if (std::string_view(eos_).starts_with(buf_)) {
                    if (!final) return out;
                    if (!buf_.empty()) set_malformed("text after the tool-call block");
                    emit_text(out, DeltaKind::content, buf_);
                    buf_.clear();
                    state_ = State::done;
                    return out;
                }
                set_malformed("text after the tool-call block");
                state_ = State::raw;
                continue;
            }
            case State::done:
                // Nothing is generated after EOS; whitespace there (a file's final newline) is ignored.
                if (!std::all_of(buf_.begin(), buf_.end(), is_space)) set_malformed("text after EOS");
                buf_.clear();
                return out;
        }
    }
}

AssistantMessage parse_completion(std::string_view text, bool thinking, const ChatFormat& fmt, std::string_view id_prefix) {
    AssistantMessage msg;
    if (thinking) msg.reasoning_content.emplace();
    StreamParser sp(thinking, fmt, id_prefix);
    auto deltas = sp.feed(text);
    auto tail = sp.finish();
    deltas.insert(deltas.end(), std::make_move_iterator(tail.begin()), std::make_move_iterator(tail.end()));
    for (auto& d : deltas) {
        switch (d.kind) {
            case DeltaKind::reasoning: *msg.reasoning_content += d.text; break;
            case DeltaKind::content: msg.content += d.text; break;
            case DeltaKind::tool_call: msg.tool_calls.push_back(std::move(d.tool_call)); break;
        }
    }
    msg.malformed = sp.malformed();
    if (!msg.malformed) {
        // The reference's last check: no special token left in content or reasoning.
        for (std::string_view tok : {fmt.bos, fmt.eos, fmt.think_open, fmt.think_close, fmt.dsml}) {
            if (msg.content.find(tok) != std::string::npos ||
                (msg.reasoning_content && msg.reasoning_content->find(tok) != std::string::npos)) {
                msg.malformed = "special token " + std::string(tok) + " in content";
                break;
            }
        }
    }
    if (msg.malformed) {  // §4: what was generated goes back as content
        std::string_view all = text;
        if (all.ends_with(fmt.eos)) all.remove_suffix(fmt.eos.size());
        msg.content = std::string(all);
        msg.reasoning_content.reset();
        msg.tool_calls.clear();
    }
    return msg;
}

namespace {
nlohmann::ordered_json tool_call_json(const ToolCall& c) {
    return {{"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}};
}
}  // namespace

nlohmann::ordered_json to_openai_message(const AssistantMessage& msg) {
    nlohmann::ordered_json j;
    j["role"] = "assistant";
    j["content"] = msg.content;
    j["reasoning_content"] = msg.reasoning_content ? nlohmann::ordered_json(*msg.reasoning_content) : nullptr;
    j["tool_calls"] = nlohmann::ordered_json::array();
    for (const auto& c : msg.tool_calls) j["tool_calls"].push_back(tool_call_json(c));
    return j;
}

nlohmann::ordered_json to_openai_delta(const StreamDelta& d) {
    nlohmann::ordered_json j;
    switch (d.kind) {
        case DeltaKind::reasoning: j["reasoning_content"] = d.text; break;
        case DeltaKind::content: j["content"] = d.text; break;
        case DeltaKind::tool_call: {
            auto c = tool_call_json(d.tool_call);
            nlohmann::ordered_json e;
            e["index"] = d.index;
            for (auto& [k, v] : c.items()) e[k] = v;
            j["tool_calls"] = nlohmann::ordered_json::array({e});
            break;
        }
    }
    return j;
}

}  // namespace dsv4::chat
