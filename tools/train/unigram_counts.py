#!/usr/bin/env python3
"""Write models/dsv4-mini/unigram_counts.json: how often each token id occurs in the training split.
`dsv4 perplexity` uses it for its unigram baseline, (count + 1) / (total + V), the same add-one
distribution train.py's unigram_ppl uses, so the two programs print the same baseline."""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bpe import Encoder  # noqa: E402
from train import encoded  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "models", "dsv4-mini")


def main():
    enc = Encoder(os.path.join(OUT, "tokenizer.json"))
    ids = encoded(enc, "train")
    counts = torch.bincount(ids, minlength=len(enc.vocab)).tolist()
    with open(os.path.join(OUT, "unigram_counts.json"), "w") as f:
        json.dump({"description": "token id -> count in the training split (tools/train/prepare_data.py)",
                   "counts": counts}, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
