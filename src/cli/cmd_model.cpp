#include <stdexcept>
#include "cli/commands.h"
namespace dsv4::cli {
int cmd_logits(int, char**) { throw std::runtime_error("logits: not implemented yet"); }
int cmd_generate(int, char**) { throw std::runtime_error("generate: not implemented yet"); }
int cmd_info(int, char**) { throw std::runtime_error("info: not implemented yet"); }
}  // namespace dsv4::cli
