// dsv4: the command-line front door. One table of subcommands; each one parses its own options.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/commands.h"

using namespace dsv4::cli;

// Options shared by the commands that load a model.
#define DSV4_MODEL_OPTS                                                                                  \
    "  --threads N              worker threads (default: every core)\n"                                \
    "  --numerics M             fp32 (default, exact) | official (DeepSeek's bf16/FP8 roundings) | int8\n"

static const Command kCommands[] = {
    {"run", "continue a text prompt (default model: models/dsv4-mini)", cmd_run,
     "  \"PROMPT\"                 the text to continue (one argument)\n"
     "  --model DIR              checkpoint directory with tokenizer.json (default: models/dsv4-mini)\n"
     "  --max-new-tokens N       tokens to generate (default 64)\n"
     "  --greedy                 take the most likely token (no sampling; not with --temperature/--top-p)\n"
     "  --temperature T          sampling temperature (default 0.8)\n"
     "  --top-p P                nucleus sampling mass (default 0.9)\n"
     "  --seed S                 sampler seed (default 0)\n" DSV4_MODEL_OPTS},
    {"perplexity", "perplexity of a text file, in windows of the training context", cmd_perplexity,
     "  --text FILE              the text to score (required)\n"
     "  --model DIR              checkpoint directory with tokenizer.json (default: models/dsv4-mini)\n"
     "  --window N               tokens per window (default 256)\n" DSV4_MODEL_OPTS},
    {"logits", "run the forward pass over token ids, write logits (safetensors)", cmd_logits,
     "  --model DIR              checkpoint directory (required)\n"
     "  --tokens FILE            token ids, separated by spaces, commas or newlines\n"
     "                           (required unless --reference)\n"
     "  --out FILE               write tensor `logits` [T, vocab] f32 to this safetensors file\n"
     "                           (required unless --reference)\n"
     "  --chunks a,b,...         feed the tokens through the cache in these sizes (sum = token count)\n"
     "  --reference FILE         compare with a reference safetensors (max |diff|, argmax agreement,\n"
     "                           mean KL); its input_ids are the tokens when --tokens is not given\n"
     "  --reference-tensor NAME  the reference's logits tensor (default logits_full)\n" DSV4_MODEL_OPTS},
    {"generate", "generate token ids from a prompt of token ids", cmd_generate,
     "  --model DIR              checkpoint directory (required)\n"
     "  --tokens FILE            prompt token ids (required)\n"
     "  --max-new-tokens N       tokens to generate (default 128)\n"
     "  --greedy                 take the most likely token (the default unless --temperature, --top-p\n"
     "                           or --top-k is given; not combinable with them)\n"
     "  --temperature T          sample at this temperature (default 1.0)\n"
     "  --top-p P                sample from this nucleus mass (default 1.0)\n"
     "  --top-k K                sample from the K most likely tokens (default 0: all)\n"
     "  --seed S                 sampler seed (default 0)\n"
     "  --ignore-eos             keep going past the end-of-sequence token\n"
     "  --print-ids              print the generated ids (what generate prints; accepted for clarity)\n"
     "  --prefill-chunk N        prompt tokens per forward step (default 2048)\n" DSV4_MODEL_OPTS},
    {"info", "describe a checkpoint: config, parameters, bytes, memory", cmd_info,
     "  --model DIR              checkpoint directory (required)\n"
     "  --context N              size the cache memory for N tokens (default: the config's maximum)\n"
     "  --numerics M             fp32 (default) | official | int8\n"},
    {"quantize", "convert a checkpoint to fp8 | fp4-experts | bf16 | f32 (official layout)", cmd_quantize,
     "  --model DIR              the checkpoint to convert (required)\n"
     "  --out DIR                where to write the converted checkpoint (required)\n"
     "  --format F               fp8 | fp4-experts | bf16 | f32 (required)\n"
     "  --shard-mb N             shard size in MB (default 2000)\n"
     "  --threads N              worker threads (default: every core)\n"
     "  --quiet                  no progress bar\n"},
    {"random-init", "write a random-weight checkpoint for a config (for benchmarks)", cmd_random_init,
     "  --config FILE            config.json of the model to build (required)\n"
     "  --out DIR                where to write the checkpoint (required)\n"
     "  --format F               fp8 | fp4-experts (default) | bf16 | f32\n"
     "  --seed S                 random seed (default 1)\n"
     "  --shard-mb N             shard size in MB (default 2000)\n"
     "  --threads N              worker threads (default: every core)\n"
     "  --quiet                  no progress bar\n"},
    {"bench", "time prefill and decode (and the machine: --machine)", cmd_bench,
     "  --model DIR              checkpoint to time (required unless --machine or --kernels)\n"
     "  --prompt N               prefill a random prompt of N tokens (default 512)\n"
     "  --tokens FILE            prefill these token ids instead (their first N when --prompt is given)\n"
     "  --gen N                  decode N tokens after the prompt (default 32)\n"
     "  --seed S                 seed of the random prompt (default 1)\n"
     "  --machine                also measure the streaming-read bandwidth and the FMA peak (with\n"
     "                           --model: the read again before, between and after the decode steps)\n"
     "  --kernels                also time the matmul kernels alone, per stored format\n" DSV4_MODEL_OPTS},
    {"tokenize", "text -> token ids with a tokenizer.json", cmd_tokenize,
     "  --tokenizer FILE         Hugging Face tokenizer.json (required)\n"
     "  --text \"...\"             print the ids of this text as a JSON array\n"
     "  --input IN.json          [\"text\", ...] to encode (with --out)\n"
     "  --out OUT.json           [[ids], ...]\n"},
    {"detokenize", "token ids -> text with a tokenizer.json", cmd_detokenize,
     "  --tokenizer FILE         Hugging Face tokenizer.json (required)\n"
     "  --text \"1,2,3\"           print the text of these ids\n"
     "  --input IDS.json         [[ids], ...] to decode (with --out)\n"
     "  --out TEXTS.json         [\"text\", ...]\n"},
    {"chat-template", "render an OpenAI chat request to the DeepSeek-V4 prompt", cmd_chat_template,
     "  --request REQ.json       an OpenAI chat completion request (required)\n"
     "  --ids                    print token ids instead of the prompt text (needs --tokenizer)\n"
     "  --tokenizer FILE         tokenizer.json for --ids\n"},
    {"chat-parse", "parse a model completion into an OpenAI assistant message", cmd_chat_parse,
     "  --request REQ.json       the request the completion answers (required)\n"
     "  --completion FILE        the model's raw completion text (required)\n"
     "  --stream                 print the streaming deltas instead of one message\n"},
    {"serve", "OpenAI-compatible HTTP server with continuous batching", cmd_serve,
     "  --model DIR              checkpoint directory (required)\n"
     "  --host ADDR              listen address (default 127.0.0.1)\n"
     "  --port N                 listen port (default 8000; 0: any free port)\n"
     "  --api-key KEY            require `Authorization: Bearer KEY` (or set DSV4_API_KEY)\n"
     "  --tokenizer FILE         tokenizer.json (default: DIR/tokenizer.json)\n"
     "  --model-id NAME          the model name the API reports (default: DIR's name)\n"
     "  --max-batch N            sequences decoded together (default 8)\n"
     "  --max-queue N            requests waiting beyond those (default 64; more get 503)\n"
     "  --max-context N          prompt + completion tokens per request (default: the config's)\n"
     "  --prefill-chunk N        prompt tokens per sequence per step (default 64)\n"
     "  --max-body-bytes N       largest request body (default 4194304)\n" DSV4_MODEL_OPTS},
};
#undef DSV4_MODEL_OPTS

static void usage(FILE* f) {
    std::fprintf(f, "usage: dsv4 <command> [options]\n\ncommands:\n");
    for (const auto& c : kCommands) std::fprintf(f, "  %-14s %s\n", c.name, c.summary);
    std::fprintf(f, "\nrun 'dsv4 <command> --help' for its options\n");
}

static bool wants_help(int argc, char** argv) {
    for (int i = 2; i < argc; ++i)
        if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) return true;
    return false;
}

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (const auto& c : kCommands) {
        if (std::strcmp(argv[1], c.name) != 0) continue;
        if (wants_help(argc, argv)) {
            std::printf("usage: dsv4 %s [options]\n\n%s\n\noptions:\n%s", c.name, c.summary, c.options);
            return 0;
        }
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
