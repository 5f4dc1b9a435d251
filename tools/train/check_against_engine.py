#!/usr/bin/env python3
"""Check tools/train/model.py against the C++ engine (`dsv4 logits`) on the same random weights.

A small config with every component active (mHC 4 streams, sliding / CSA (m=4, indexer top-k) /
HCA (m=16) layers, hash + top-k MoE with a shared expert), T=200 tokens with sliding window 16,
so queries see many compressor windows and the indexer's top-k is a real choice (50 CSA entries,
top 6). Weights are drawn larger than at training init so every path moves the logits.
Passes when max |logits_torch - logits_engine| < 1e-4 (fp32), on the full pass and on a
chunked (incremental) engine pass.

usage: check_against_engine.py [--dsv4 build/dsv4]
"""
import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import DSV4, default_config, load_safetensors, save_safetensors  # noqa: E402


def check_config():
    cfg = copy.deepcopy(default_config())
    cfg.update({"vocab_size": 512, "hidden_size": 64, "num_hidden_layers": 5, "sliding_window": 16,
                "layer_types": ["sliding_attention", "compressed_sparse_attention",
                                "heavily_compressed_attention", "compressed_sparse_attention",
                                "heavily_compressed_attention"],
                "mlp_layer_types": ["hash_moe", "hash_moe", "moe", "moe", "moe"],
                "q_lora_rank": 48, "o_lora_rank": 24, "index_topk": 6, "moe_intermediate_size": 32,
                "swiglu_limit": 3.0})
    return cfg


def main():
    ap = argparse.ArgumentParser()
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    ap.add_argument("--dsv4", default=os.path.join(root, "build", "dsv4"))
    ap.add_argument("--T", type=int, default=200)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    cfg = check_config()
    model = DSV4(cfg)
    model.reset_parameters(std=0.15)
    with torch.no_grad():  # make the non-matrix parameters non-trivial too
        for name, p in model.named_parameters():
            if p.dim() == 1 or name.endswith("ape"):
                p.add_(torch.randn_like(p) * 0.3)
        for L in model.layers:
            if L.ffn.gate.bias is not None:
                L.ffn.gate.bias.copy_(torch.randn_like(L.ffn.gate.bias) * 0.3)
    tokens = torch.randint(2, cfg["vocab_size"], (a.T,))
    with torch.no_grad():
        ref = model(tokens[None])[0]
    ok = True
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        save_safetensors(os.path.join(d, "model.safetensors"), model.state_for_engine(), {"format": "pt"})
        with open(os.path.join(d, "tokens.txt"), "w") as f:
            f.write(" ".join(map(str, tokens.tolist())))
        runs = {"full pass": [], "chunks 37,1,1,100,61": ["--chunks", "37,1,1,100,61"]}
        for label, extra in runs.items():
            out = os.path.join(d, "out.safetensors")
            subprocess.run([a.dsv4, "logits", "--model", d, "--tokens", os.path.join(d, "tokens.txt"),
                            "--out", out, "--threads", "1"] + extra, check=True)
            eng = load_safetensors(out)["logits"]
            diff = (eng - ref).abs()
            late = diff[64:].max().item()
            agree = (eng.argmax(-1) == ref.argmax(-1)).float().mean().item()
            print(f"{label}: T={a.T} max|torch-engine|={diff.max().item():.3e} "
                  f"(positions >= 64: {late:.3e}), logit scale {ref.abs().max().item():.2f}, "
                  f"argmax agreement {agree * 100:.1f}%")
            ok &= diff.max().item() < 1e-4
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
