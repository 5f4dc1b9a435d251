// The literal texts of a DeepSeek chat format, one table row per format version
// (docs/dsv4-chat.md §5: a later checkpoint is a new row, not a fork).
#pragma once
#include <span>
#include <string>
#include <string_view>

namespace dsv4::chat {

struct ChatFormat {
    std::string_view id;              // e.g. "deepseek-v4"
    std::string_view encoder_sha256;  // sha256 of the reference encoding/ file this row reproduces

    // §1 tokens (as text)
    std::string_view bos;
    std::string_view eos;
    std::string_view user;
    std::string_view assistant;
    std::string_view think_open;
    std::string_view think_close;
    std::string_view dsml;             // "｜DSML｜": tool-call markup prefix, no brackets of its own
    std::string_view latest_reminder;

    // §3.2 text written right after BOS with thinking on and effort max
    std::string_view effort_max;

    // §3.3 / §3.9 system content + separator + tools block; the block has one "{tool_schemas}" slot
    std::string_view tools_separator;
    std::string_view tools_template;
    std::string_view tool_schemas_slot;

    // §3.4 tool results inside a user turn, and the separator between the parts of a user turn
    std::string_view tool_result_open;
    std::string_view tool_result_close;
    std::string_view user_part_separator;

    // §3.8 tool-call markup names (combined with dsml into tags) and separators
    std::string_view tool_calls_lead;  // between content and the tool-call block
    std::string_view tool_calls_name;
    std::string_view invoke_name;
    std::string_view parameter_name;
    std::string_view single_argument_key;  // key used when arguments are not a JSON object

    // Derived tags, e.g. tag_open("invoke") == "<｜DSML｜invoke", tag_close("invoke") == "</｜DSML｜invoke>".
    std::string tag_open(std::string_view name) const;
    std::string tag_close(std::string_view name) const;
    // "\n\n<｜DSML｜tool_calls": where content stops and a tool-call block starts (§4).
    std::string tool_calls_start() const;

    // The first release of V4 (V4-Flash, V4-Pro).
    static const ChatFormat& v4();
    // Every known format; find() throws std::invalid_argument naming the unknown id.
    static std::span<const ChatFormat> all();
    static const ChatFormat& find(std::string_view id);
};

}  // namespace dsv4::chat
