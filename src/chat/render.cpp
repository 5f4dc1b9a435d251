// Request mapping (docs/dsv4-chat.md §2) and rendering (§3) of the DeepSeek-V4 chat format.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "chat/pyjson.h"
#include "chat/request.h"

namespace dsv4::chat {

namespace {

using json = nlohmann::ordered_json;

std::string at(const std::string& base, size_t i) { return base + "[" + std::to_string(i) + "]"; }

std::string type_name(const json& v) { return v.type_name(); }

// Message content: a string, null (as "") or an array of {"type":"text","text":...} parts joined by `joiner`.
std::string content_text(const json& msg, const std::string& field, std::string_view joiner, bool required) {
    auto it = msg.find("content");
    if (it == msg.end() || it->is_null()) {
        if (required) throw RequestError(field, "is required");
        return {};
    }
    if (it->is_string()) return it->get<std::string>();
    if (it->is_array()) {
        std::string out;
        for (size_t j = 0; j < it->size(); ++j) {
            const json& part = (*it)[j];
            const std::string pf = at(field, j);
            if (!part.is_object()) throw RequestError(pf, "must be a content part object, got " + type_name(part));
            auto t = part.find("type");
            if (t == part.end() || !t->is_string()) throw RequestError(pf + ".type", "is required");
            if (*t != "text") throw RequestError(pf + ".type", "unsupported content part type '" + t->get<std::string>() + "' (only \"text\")");
            auto txt = part.find("text");
            if (txt == part.end() || !txt->is_string()) throw RequestError(pf + ".text", "must be a string");
            if (j) out += joiner;
            out += txt->get<std::string>();
        }
        return out;
    }
    throw RequestError(field, "must be a string or an array of text parts, got " + type_name(*it));
}

std::optional<std::string> optional_string(const json& obj, const char* key, const std::string& field) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) throw RequestError(field, "must be a string, got " + type_name(*it));
    return it->get<std::string>();
}

enum class Role { system, developer, user, assistant, latest_reminder };

struct Block {  // one part of a user turn (§3.4)
    bool tool_result = false;
    std::string text;
    std::string tool_call_id;
};

struct Call {
    std::string id;
    std::string name;
    std::optional<json> object;  // arguments as a JSON object, or
    std::string raw;             // the text of arguments that are not one (§3.8)
};

struct Msg {
    Role role = Role::user;
    std::string content;
    std::vector<Block> blocks;  // user turns
    std::string reasoning;      // assistant
    std::vector<Call> calls;    // assistant
    bool carries_tools = false; // system message with the tools block (§2)
};

Msg make_msg(Role role, std::string content = {}) {
    Msg m;
    m.role = role;
    m.content = std::move(content);
    return m;
}

Block make_block(bool tool_result, std::string text, std::string tool_call_id = {}) {
    Block b;
    b.tool_result = tool_result;
    b.text = std::move(text);
    b.tool_call_id = std::move(tool_call_id);
    return b;
}

Call read_call(const json& tc, const std::string& field) {
    if (!tc.is_object()) throw RequestError(field, "must be an object, got " + type_name(tc));
    Call c;
    if (auto id = tc.find("id"); id != tc.end() && id->is_string()) c.id = id->get<std::string>();
    auto fn = tc.find("function");
    if (fn == tc.end() || !fn->is_object()) throw RequestError(field + ".function", "must be an object");
    if (c.id.empty())
        if (auto id = fn->find("id"); id != fn->end() && id->is_string()) c.id = id->get<std::string>();
    auto name = fn->find("name");
    if (name == fn->end() || !name->is_string()) throw RequestError(field + ".function.name", "must be a string");
    c.name = name->get<std::string>();
    auto args = fn->find("arguments");
    if (args == fn->end() || args->is_null()) throw RequestError(field + ".function.arguments", "is required");
    // An arguments value that is not a string is taken as if it were its JSON text.
    std::string text = args->is_string() ? args->get<std::string>() : py_dumps(*args);
    if (args->is_object()) {
        c.object = *args;
    } else {
        json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (parsed.is_object()) c.object = std::move(parsed);
        else c.raw = std::move(text);
    }
    return c;
}

// §2: the request's tools as their `function` objects.
std::vector<const json*> read_tools(const json& request) {
    std::vector<const json*> out;
    auto it = request.find("tools");
    if (it == request.end() || it->is_null()) return out;
    if (!it->is_array()) throw RequestError("tools", "must be an array of tool objects, got " + type_name(*it));
    for (size_t i = 0; i < it->size(); ++i) {
        const json& t = (*it)[i];
        if (!t.is_object()) throw RequestError(at("tools", i), "must be an object, got " + type_name(t));
        auto fn = t.find("function");
        if (fn == t.end() || !fn->is_object()) throw RequestError(at("tools", i) + ".function", "must be an object");
        auto name = fn->find("name");
        if (name == fn->end() || !name->is_string())
            throw RequestError(at("tools", i) + ".function.name", "must be a string");
        out.push_back(&*fn);
    }
    return out;
}

// Reads the messages; consecutive user and tool messages form one user turn (§3.4).
std::vector<Msg> read_messages(const json& request) {
    auto it = request.find("messages");
    if (it == request.end()) throw RequestError("messages", "is required");
    if (!it->is_array()) throw RequestError("messages", "must be an array of messages, got " + type_name(*it));
    if (it->empty()) throw RequestError("messages", "must not be empty");
    std::vector<Msg> out;
    for (size_t i = 0; i < it->size(); ++i) {
        const json& m = (*it)[i];
        const std::string f = at("messages", i);
        if (!m.is_object()) throw RequestError(f, "must be an object, got " + type_name(m));
        auto r = m.find("role");
        if (r == m.end()) throw RequestError(f + ".role", "is required");
        if (!r->is_string()) throw RequestError(f + ".role", "must be a string, got " + type_name(*r));
        const std::string role = r->get<std::string>();
        const bool after_user = !out.empty() && out.back().role == Role::user;
        if (role == "system") {
            out.push_back(make_msg(Role::system, content_text(m, f + ".content", "", false)));
        } else if (role == "developer") {
            std::string c = content_text(m, f + ".content", "", false);
            if (c.empty()) throw RequestError(f + ".content", "a developer message needs non-empty content");
            out.push_back(make_msg(Role::developer, std::move(c)));
        } else if (role == "latest_reminder") {
            out.push_back(make_msg(Role::latest_reminder, content_text(m, f + ".content", "", false)));
        } else if (role == "user") {
            Block b = make_block(false, content_text(m, f + ".content", "", false));
            if (!after_user) out.push_back(make_msg(Role::user));
            out.back().blocks.push_back(std::move(b));
        } else if (role == "tool") {
            Block b = make_block(true, content_text(m, f + ".content", "\n\n", /*required=*/true),
                                 optional_string(m, "tool_call_id", f + ".tool_call_id").value_or(""));
            if (!after_user) out.push_back(make_msg(Role::user));
            out.back().blocks.push_back(std::move(b));
        } else if (role == "assistant") {
            Msg a = make_msg(Role::assistant, content_text(m, f + ".content", "", false));
            auto rc = optional_string(m, "reasoning_content", f + ".reasoning_content");
            if (!rc && m.contains("reasoning")) rc = optional_string(m, "reasoning", f + ".reasoning");
            a.reasoning = rc.value_or("");
            if (auto tc = m.find("tool_calls"); tc != m.end() && !tc->is_null()) {
                if (!tc->is_array())
                    throw RequestError(f + ".tool_calls", "must be an array, got " + type_name(*tc));
                for (size_t j = 0; j < tc->size(); ++j) a.calls.push_back(read_call((*tc)[j], at(f + ".tool_calls", j)));
            }
            out.push_back(std::move(a));
        } else {
            throw RequestError(f + ".role", "unknown role '" + role +
                                                "' (expected system, user, assistant, tool or developer)");
        }
    }
    return out;
}

// §3.4: tool results in the order of the tool_calls ids of the assistant message before them.
void sort_tool_results(std::vector<Msg>& msgs) {
    std::map<std::string, size_t> order;
    for (auto& m : msgs) {
        if (m.role == Role::assistant && !m.calls.empty()) {
            order.clear();
            for (size_t i = 0; i < m.calls.size(); ++i)
                if (!m.calls[i].id.empty()) order.emplace(m.calls[i].id, i);
        } else if (m.role == Role::user && !order.empty()) {
            std::vector<Block> results;
            for (auto& b : m.blocks)
                if (b.tool_result) results.push_back(b);
            if (results.size() < 2) continue;
            auto key = [&](const Block& b) {
                auto it = order.find(b.tool_call_id);
                return it == order.end() ? size_t{0} : it->second;
            };
            std::stable_sort(results.begin(), results.end(),
                             [&](const Block& x, const Block& y) { return key(x) < key(y); });
            size_t k = 0;
            for (auto& b : m.blocks)
                if (b.tool_result) b = std::move(results[k++]);
        }
    }
}

std::string render_tools_block(const ChatFormat& fmt, const std::vector<const json*>& tools) {
    std::string schemas;
    for (size_t i = 0; i < tools.size(); ++i) {
        if (i) schemas += '\n';
        schemas += py_dumps(*tools[i]);
    }
    std::string block(fmt.tools_template);
    const auto pos = block.find(fmt.tool_schemas_slot);
    block.replace(pos, fmt.tool_schemas_slot.size(), schemas);
    return block;
}

// §3.8
std::string render_tool_calls(const ChatFormat& fmt, const std::vector<Call>& calls) {
    const std::string param_open = fmt.tag_open(fmt.parameter_name);
    const std::string param_close = fmt.tag_close(fmt.parameter_name);
    auto param = [&](std::string_view key, bool is_string, std::string_view value) {
        std::string s = param_open;
        s += " name=\"";
        s += key;
        s += "\" string=\"";
        s += is_string ? "true" : "false";
        s += "\">";
        s += value;
        s += param_close;
        return s;
    };
    std::string out(fmt.tool_calls_lead);
    out += fmt.tag_open(fmt.tool_calls_name) + ">\n";
    for (size_t i = 0; i < calls.size(); ++i) {
        const Call& c = calls[i];
        if (i) out += '\n';
        out += fmt.tag_open(fmt.invoke_name) + " name=\"" + c.name + "\">\n";
        if (c.object) {
            bool first = true;
            for (const auto& [k, v] : c.object->items()) {
                if (!first) out += '\n';
                first = false;
                out += v.is_string() ? param(k, true, v.get_ref<const std::string&>()) : param(k, false, py_dumps(v));
            }
        } else {
            out += param(fmt.single_argument_key, true, c.raw);
        }
        out += '\n' + fmt.tag_close(fmt.invoke_name);
    }
    out += '\n' + fmt.tag_close(fmt.tool_calls_name);
    return out;
}

}  // namespace

json parse_request(std::string_view body) {
    try {
        return json::parse(body);
    } catch (const json::parse_error& e) {
        throw RequestError("request", std::string("invalid JSON: ") + e.what());
    }
}

ChatOptions read_chat_options(const json& request) {
    if (!request.is_object()) throw RequestError("request", "must be a JSON object, got " + type_name(request));
    ChatOptions o;
    if (auto t = request.find("thinking"); t != request.end() && !t->is_null()) {
        if (!t->is_object()) throw RequestError("thinking", "must be an object like {\"type\": \"enabled\"}");
        if (auto ty = t->find("type"); ty != t->end() && !ty->is_null()) {
            if (*ty == "disabled") o.thinking = false;
            else if (*ty != "enabled")
                throw RequestError("thinking.type", "must be \"enabled\" or \"disabled\", got " + ty->dump());
        }
    }
    if (auto k = request.find("chat_template_kwargs"); k != request.end() && !k->is_null()) {
        if (!k->is_object()) throw RequestError("chat_template_kwargs", "must be an object");
        if (auto th = k->find("thinking"); th != k->end() && !th->is_null()) {
            if (!th->is_boolean()) throw RequestError("chat_template_kwargs.thinking", "must be a boolean");
            if (!th->get<bool>()) o.thinking = false;
        }
    }
    if (auto e = request.find("reasoning_effort"); e != request.end() && !e->is_null()) {
        if (!e->is_string()) throw RequestError("reasoning_effort", "must be a string, got " + type_name(*e));
        const auto& v = e->get_ref<const std::string&>();
        if (v == "none") o.thinking = false;
        else if (v == "max" || v == "ultra") o.effort = ReasoningEffort::max;
        // minimal, low, medium, high, xhigh (and anything else) mean the default effort.
    }
    return o;
}

RenderedPrompt render_prompt(const json& request, const ChatFormat& fmt) {
    const ChatOptions opt = read_chat_options(request);
    const auto tools = read_tools(request);
    std::vector<Msg> msgs = read_messages(request);
    sort_tool_results(msgs);

    // §2: tools go to a leading system message, made with empty content if there is none.
    if (!tools.empty()) {
        if (msgs.front().role != Role::system) msgs.insert(msgs.begin(), make_msg(Role::system));
        msgs.front().carries_tools = true;
    }
    // §3.7: with thinking on, old reasoning is dropped unless any message carries tools.
    const bool drop = opt.thinking && tools.empty();
    auto last_user_of = [](const std::vector<Msg>& v) {
        for (size_t i = v.size(); i-- > 0;)
            if (v[i].role == Role::user || v[i].role == Role::developer) return static_cast<long>(i);
        return -1L;
    };
    if (drop) {  // the reference also drops developer messages before the last user turn
        const long lu = last_user_of(msgs);
        std::vector<Msg> kept;
        for (size_t i = 0; i < msgs.size(); ++i)
            if (msgs[i].role != Role::developer || static_cast<long>(i) >= lu) kept.push_back(std::move(msgs[i]));
        msgs = std::move(kept);
    }
    const long last_user = last_user_of(msgs);

    RenderedPrompt rp;
    rp.thinking = opt.thinking;
    rp.effort = opt.effort;
    rp.has_tools = !tools.empty();
    rp.format = &fmt;
    std::string& out = rp.text;
    out += fmt.bos;  // §3.1
    for (size_t i = 0; i < msgs.size(); ++i) {
        const Msg& m = msgs[i];
        const long idx = static_cast<long>(i);
        if (i == 0 && opt.thinking && opt.effort == ReasoningEffort::max) out += fmt.effort_max;  // §3.2
        switch (m.role) {
            case Role::system:  // §3.3
                out += m.content;
                if (m.carries_tools) out += std::string(fmt.tools_separator) + render_tools_block(fmt, tools);
                break;
            case Role::developer:
                out += fmt.user;
                out += m.content;
                break;
            case Role::latest_reminder:
                out += fmt.latest_reminder;
                out += m.content;
                break;
            case Role::user:  // §3.4
                out += fmt.user;
                for (size_t j = 0; j < m.blocks.size(); ++j) {
                    if (j) out += fmt.user_part_separator;
                    const Block& b = m.blocks[j];
                    if (b.tool_result) out += std::string(fmt.tool_result_open) + b.text + std::string(fmt.tool_result_close);
                    else out += b.text;
                }
                break;
            case Role::assistant:  // §3.6
                if (opt.thinking && (!drop || idx > last_user)) out += m.reasoning + std::string(fmt.think_close);
                out += m.content;
                if (!m.calls.empty()) out += render_tool_calls(fmt, m.calls);
                out += fmt.eos;
                break;
        }
        // §3.5: a user turn followed by an assistant message (or ending the request) opens the assistant turn.
        if (i + 1 < msgs.size() && msgs[i + 1].role != Role::assistant && msgs[i + 1].role != Role::latest_reminder)
            continue;
        if (m.role == Role::user || m.role == Role::developer) {
            out += fmt.assistant;
            out += (opt.thinking && (!drop || idx >= last_user)) ? fmt.think_open : fmt.think_close;
        }
    }
    return rp;
}

}  // namespace dsv4::chat
