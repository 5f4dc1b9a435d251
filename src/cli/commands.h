// The dsv4 subcommands. Each lives in its own src/cli/cmd_*.cpp and returns the exit status;
// errors are thrown (std::exception) and main() prints them as one line.
#pragma once
#include "cli/args.h"

namespace dsv4::cli {

struct Command {
    const char* name;
    const char* summary;
    int (*run)(int argc, char** argv);  // argv[0] is the subcommand name
    const char* options;                // `dsv4 <name> --help`: one line per option
};

// engine (cmd_model.cpp)
int cmd_logits(int argc, char** argv);
int cmd_generate(int argc, char** argv);
int cmd_info(int argc, char** argv);
// checkpoints and timing (cmd_tools.cpp)
int cmd_quantize(int argc, char** argv);
int cmd_random_init(int argc, char** argv);
int cmd_bench(int argc, char** argv);
// tokenizer (cmd_tokenize.cpp)
int cmd_tokenize(int argc, char** argv);
int cmd_detokenize(int argc, char** argv);
// text in / text out with a model directory's tokenizer.json (cmd_run.cpp)
int cmd_run(int argc, char** argv);
int cmd_perplexity(int argc, char** argv);
// chat format (cmd_chat.cpp)
int cmd_chat_template(int argc, char** argv);
int cmd_chat_parse(int argc, char** argv);
// HTTP server (cmd_serve.cpp)
int cmd_serve(int argc, char** argv);

}  // namespace dsv4::cli
