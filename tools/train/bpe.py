#!/usr/bin/env python3
"""Byte-level BPE: train on a text file, write a Hugging Face tokenizer.json, encode text.

Same scheme as GPT-2 / DeepSeek: the text is split by the GPT-2 regex (ByteLevel pre-tokenizer,
use_regex=true, add_prefix_space=false), each piece's UTF-8 bytes are mapped to printable
characters (bytes_to_unicode), and merges are learned by pair frequency over the piece counts.

Ids: the 7 special tokens first (BOS=0, EOS=1, ...), then the 256 byte tokens, then one token per merge.

usage: bpe.py train TEXT OUT_TOKENIZER_JSON [--vocab 8192]
"""
import argparse
import collections
import heapq
import json
import sys

try:
    import regex as re  # python3-regex: has \p{L}, \p{N}
    GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
except ImportError:  # approximation with re's unicode classes: letters = [^\W\d_]
    import re
    GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?[^\s\w]+| ?_+|\s+(?!\S)|\s+"""

SPECIALS = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>",
            "<think>", "</think>", "｜DSML｜"]
PRETOK = re.compile(GPT2_PATTERN)


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


B2U = bytes_to_unicode()


def pieces(text):
    """Pre-tokenize: GPT-2 regex pieces, each as its byte-level unicode string."""
    for m in PRETOK.finditer(text):
        yield "".join(B2U[b] for b in m.group().encode("utf-8"))


def train(text, vocab_size):
    counts = collections.Counter(pieces(text))
    words = [list(w) for w in counts]           # each word as a list of symbols
    freqs = [counts[w] for w in counts]
    # pair -> total count, and pair -> set of word indices containing it
    pair_count = collections.defaultdict(int)
    where = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_count[(a, b)] += freqs[i]
            where[(a, b)].add(i)
    # max-heap with lazy invalidation; ties broken by the lexicographically smaller pair
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    merges = []
    n_merges = vocab_size - len(SPECIALS) - 256
    while len(merges) < n_merges and heap:
        negc, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) != -negc or negc == 0:
            continue  # stale entry
        merges.append(pair)
        a, b = pair
        new = a + b
        changed = set()
        for i in list(where[pair]):
            w = words[i]
            f = freqs[i]
            # remove this word's old pairs, merge, add its new pairs
            for p in zip(w, w[1:]):
                pair_count[p] -= f
                changed.add(p)
            j, out = 0, []
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    out.append(new)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            for p in zip(w, w[1:]):
                where[p].discard(i)
            words[i] = out
            for p in zip(out, out[1:]):
                pair_count[p] += f
                where[p].add(i)
                changed.add(p)
        del pair_count[pair]
        del where[pair]
        for p in changed:
            c = pair_count.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, p))
        if len(merges) % 1000 == 0:
            print(f"  {len(merges)} merges", file=sys.stderr)
    return merges


def tokenizer_json(merges):
    vocab = {}
    for s in SPECIALS:
        vocab[s] = len(vocab)
    for b in range(256):
        vocab[B2U[b]] = len(vocab)
    for a, b in merges:
        vocab[a + b] = len(vocab)
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, s in enumerate(SPECIALS)]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [a + " " + b for a, b in merges]},
    }


class Encoder:
    """Encodes text with a tokenizer.json written by this file (no special-token matching:
    the training text has none)."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            tj = json.load(f)
        self.vocab = tj["model"]["vocab"]
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.rank = {tuple(m.split(" ")): r for r, m in enumerate(tj["model"]["merges"])}
        self.cache = {}
        self.u2b = {u: b for b, u in B2U.items()}

    def _bpe(self, piece):
        w = list(piece)
        while len(w) > 1:
            # merge the lowest-rank adjacent pair, everywhere it occurs
            best = min(zip(w, w[1:]), key=lambda p: self.rank.get(p, 1 << 30))
            if best not in self.rank:
                break
            a, b = best
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    out.append(a + b)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            w = out
        return [self.vocab[s] for s in w]

    def encode(self, text):
        ids = []
        for p in pieces(text):
            r = self.cache.get(p)
            if r is None:
                r = self.cache[p] = self._bpe(p)
            ids.extend(r)
        return ids

    def decode(self, ids):
        s = "".join(self.id_to_token[i] for i in ids)
        return bytes(self.u2b[c] for c in s).decode("utf-8", errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["train"])
    ap.add_argument("text")
    ap.add_argument("out")
    ap.add_argument("--vocab", type=int, default=8192)
    a = ap.parse_args()
    with open(a.text, encoding="utf-8") as f:
        text = f.read()
    merges = train(text, a.vocab)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(merges), f, ensure_ascii=False, indent=1)
    print(f"wrote {a.out}: {len(SPECIALS) + 256 + len(merges)} tokens", file=sys.stderr)


if __name__ == "__main__":
    main()
