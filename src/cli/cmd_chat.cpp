#include <stdexcept>
#include "cli/commands.h"
namespace dsv4::cli {
int cmd_chat_template(int, char**) { throw std::runtime_error("chat-template: not implemented yet"); }
int cmd_chat_parse(int, char**) { throw std::runtime_error("chat-parse: not implemented yet"); }
}  // namespace dsv4::cli
