#!/usr/bin/env python3
"""Writes a byte-level BPE tokenizer.json (Hugging Face format) for the 512-token vocabulary of
tests/data/dsv4-tiny-a, so that the server can be tested with text on that random-weight model.

Layout of the 512 ids:
  0..9     the DeepSeek-V4 chat tokens as added tokens (0 = BOS and 1 = EOS, as the model's config says)
  10..265  the 256 ByteLevel byte symbols (GPT-2 byte -> unicode table), in byte order
  266..511 merges learned by plain BPE on a small built-in English / JSON / chat-markup corpus

Plain python3, no packages; deterministic (ties between pair counts go to the lexicographically
smallest pair). Usage: python3 tools/make_tiny_tokenizer.py [OUT.json]
(default: tests/data/dsv4-tiny-a-tok/tokenizer.json next to this repository's tests/data).
"""
import json
import os
import re
import sys

VOCAB_SIZE = 512

# (content, special). ids follow list order.
ADDED = [
    ("<｜begin▁of▁sentence｜>", True),
    ("<｜end▁of▁sentence｜>", True),
    ("<｜▁pad▁｜>", True),
    ("<｜User｜>", True),
    ("<｜Assistant｜>", True),
    ("<think>", False),
    ("</think>", False),
    ("｜DSML｜", False),
    ("<｜latest_reminder｜>", True),
    ("<tool_result>", False),
]

CORPUS = """
The quick brown fox jumps over the lazy dog. Hello, world! How are you today?
You are a helpful assistant. Answer the question of the user as well as you can.
What is the weather like in Paris? It is sunny and the temperature is 21 degrees.
Please call the function get_weather with the city name and the unit of temperature.
The model thinks first, then it writes the answer. This is the reasoning of the model.
In the beginning there was the word, and the word was with the tokenizer.
She said that they would be there in the morning, but nobody came until the evening.
There are 3 apples and 4 oranges on the table; that makes 7 pieces of fruit in total.
{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}
{"type": "function", "function": {"name": "lookup", "description": "Look up a word", "parameters": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}}}
<｜DSML｜tool_calls>
<｜DSML｜invoke name="get_weather">
<｜DSML｜parameter name="city" string="true">Paris</｜DSML｜parameter>
</｜DSML｜invoke>
</｜DSML｜tool_calls>
## Tools
You have access to a set of tools you can use to answer the user's question.
If thinking_mode is enabled, you MUST output your complete reasoning before any tool calls or final response.
def main():
    for i in range(10):
        print("hello", i)
    return 0
int main(int argc, char** argv) { return 0; }
"""


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


# An ASCII approximation of the GPT-2 split, used only to choose merges.
SPLIT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "data", "dsv4-tiny-a-tok", "tokenizer.json")
    b2u = bytes_to_unicode()

    vocab = {}
    next_id = len(ADDED)
    for b in range(256):
        vocab[b2u[b]] = next_id
        next_id += 1

    # word (tuple of symbols) -> count
    words = {}
    for piece in SPLIT.findall(CORPUS):
        sym = tuple(b2u[b] for b in piece.encode("utf-8"))
        words[sym] = words.get(sym, 0) + 1

    merges = []
    while next_id < VOCAB_SIZE:
        pairs = {}
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + c
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merged = best[0] + best[1]
        if merged in vocab:  # cannot happen with byte symbols, but keep ids unique
            words = {tuple(w): c for w, c in words.items()}
        merges.append(best[0] + " " + best[1])
        vocab[merged] = next_id
        next_id += 1
        new_words = {}
        for w, c in words.items():
            out_w, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out_w.append(merged)
                    i += 2
                else:
                    out_w.append(w[i])
                    i += 1
            t = tuple(out_w)
            new_words[t] = new_words.get(t, 0) + c
        words = new_words
    if next_id != VOCAB_SIZE:
        sys.exit(f"corpus too small: only {next_id} ids")

    added_tokens = [
        {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": special}
        for i, (content, special) in enumerate(ADDED)
    ]
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added_tokens,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": vocab, "merges": merges,
        },
    }
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {out}: {len(ADDED)} added tokens, 256 bytes, {len(merges)} merges")


if __name__ == "__main__":
    main()
