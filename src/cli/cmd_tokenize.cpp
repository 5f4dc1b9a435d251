#include <stdexcept>
#include "cli/commands.h"
namespace dsv4::cli {
int cmd_tokenize(int, char**) { throw std::runtime_error("tokenize: not implemented yet"); }
int cmd_detokenize(int, char**) { throw std::runtime_error("detokenize: not implemented yet"); }
}  // namespace dsv4::cli
