// dsv4: the command-line front door. One table of subcommands; each one parses its own options.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/commands.h"

using namespace dsv4::cli;

static const Command kCommands[] = {
    {"run", "continue a text prompt (default model: models/dsv4-mini)", cmd_run},
    {"perplexity", "perplexity of a text file, in windows of the training context", cmd_perplexity},
    {"logits", "run the forward pass over token ids, write logits (safetensors)", cmd_logits},
    {"generate", "generate token ids from a prompt of token ids", cmd_generate},
    {"info", "describe a checkpoint: config, parameters, bytes, memory", cmd_info},
    {"quantize", "convert a checkpoint to fp8 | fp4-experts | bf16 | f32 (official layout)", cmd_quantize},
    {"random-init", "write a random-weight checkpoint for a config (for benchmarks)", cmd_random_init},
    {"bench", "time prefill and decode (and the machine: --machine)", cmd_bench},
    {"tokenize", "text -> token ids with a tokenizer.json", cmd_tokenize},
    {"detokenize", "token ids -> text with a tokenizer.json", cmd_detokenize},
    {"chat-template", "render an OpenAI chat request to the DeepSeek-V4 prompt", cmd_chat_template},
    {"chat-parse", "parse a model completion into an OpenAI assistant message", cmd_chat_parse},
    {"serve", "OpenAI-compatible HTTP server with continuous batching", cmd_serve},
};

static void usage(FILE* f) {
    std::fprintf(f, "usage: dsv4 <command> [options]\n\ncommands:\n");
    for (const auto& c : kCommands) std::fprintf(f, "  %-14s %s\n", c.name, c.summary);
}

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (const auto& c : kCommands) {
        if (std::strcmp(argv[1], c.name) != 0) continue;
        try {
            return c.run(argc - 1, argv + 1);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "dsv4 %s: error: %s\n", c.name, e.what());
            return 1;
        }
    }
    std::fprintf(stderr, "dsv4: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
