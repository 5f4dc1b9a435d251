#include "chat/format.h"

#include <array>
#include <stdexcept>

namespace dsv4::chat {

namespace {

// docs/dsv4-chat.md §3.2, byte for byte (ends with two newlines).
constexpr std::string_view kV4EffortMax =
    "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
    "You MUST be very thorough in your thinking and comprehensively decompose the problem to resolve the root "
    "cause, rigorously stress-testing your logic against all potential paths, edge cases, and adversarial "
    "scenarios.\n"
    "Explicitly write out your entire deliberation process, documenting every intermediate step, considered "
    "alternative, and rejected hypothesis to ensure absolutely no assumption is left unchecked.\n\n";

// docs/dsv4-chat.md §3.9, byte for byte (ends with one newline).
constexpr std::string_view kV4ToolsTemplate =
    "## Tools\n"
    "\n"
    "You have access to a set of tools to help answer the user's question. You can invoke tools by writing a "
    "\"<｜DSML｜tool_calls>\" block like the following:\n"
    "\n"
    "<｜DSML｜tool_calls>\n"
    "<｜DSML｜invoke name=\"$TOOL_NAME\">\n"
    "<｜DSML｜parameter name=\"$PARAMETER_NAME\" string=\"true|false\">$PARAMETER_VALUE</｜DSML｜parameter>\n"
    "...\n"
    "</｜DSML｜invoke>\n"
    "<｜DSML｜invoke name=\"$TOOL_NAME2\">\n"
    "...\n"
    "</｜DSML｜invoke>\n"
    "</｜DSML｜tool_calls>\n"
    "\n"
    "String parameters should be specified as is and set `string=\"true\"`. For all other types (numbers, "
    "booleans, arrays, objects), pass the value in JSON format and set `string=\"false\"`.\n"
    "\n"
    "If thinking_mode is enabled (triggered by <think>), you MUST output your complete reasoning inside "
    "<think>...</think> BEFORE any tool calls or final response.\n"
    "\n"
    "Otherwise, output directly after </think> with tool calls or final response.\n"
    "\n"
    "### Available Tool Schemas\n"
    "\n"
    "{tool_schemas}\n"
    "\n"
    "You MUST strictly follow the above defined tool name and parameter schemas to invoke tool calls.\n";

constexpr std::array<ChatFormat, 1> kFormats = {{
    {
        .id = "deepseek-v4",
        .encoder_sha256 = "bdbd57c132a1b3725042323d02b98b9d1df28e5f388f134399555d041f5055e0",
        .bos = "<｜begin▁of▁sentence｜>",
        .eos = "<｜end▁of▁sentence｜>",
        .user = "<｜User｜>",
        .assistant = "<｜Assistant｜>",
        .think_open = "<think>",
        .think_close = "</think>",
        .dsml = "｜DSML｜",
        .latest_reminder = "<｜latest_reminder｜>",
        .effort_max = kV4EffortMax,
        .tools_separator = "\n\n",
        .tools_template = kV4ToolsTemplate,
        .tool_schemas_slot = "{tool_schemas}",
        .tool_result_open = "<tool_result>",
        .tool_result_close = "</tool_result>",
        .user_part_separator = "\n\n",
        .tool_calls_lead = "\n\n",
        .tool_calls_name = "tool_calls",
        .invoke_name = "invoke",
        .parameter_name = "parameter",
        .single_argument_key = "arguments",
    },
}};

}  // namespace

std::string ChatFormat::tag_open(std::string_view name) const {
    std::string s = "<";
    s += dsml;
    s += name;
    return s;
}

std::string ChatFormat::tag_close(std::string_view name) const {
    std::string s = "</";
    s += dsml;
    s += name;
    s += ">";
    return s;
}

std::string ChatFormat::tool_calls_start() const {
    return std::string(tool_calls_lead) + tag_open(tool_calls_name);
}

const ChatFormat& ChatFormat::v4() { return kFormats[0]; }

std::span<const ChatFormat> ChatFormat::all() { return kFormats; }

const ChatFormat& ChatFormat::find(std::string_view id) {
    for (const auto& f : kFormats)
        if (f.id == id) return f;
    throw std::invalid_argument("unknown chat format '" + std::string(id) + "'");
}

}  // namespace dsv4::chat
