"""A plain-torch DeepSeek-V4 model, written from docs/dsv4-model.md (cited as "md").

Full-sequence forward only (positions 0..T-1), batched [B, T]. Every component of the engine's
graph is here: mHC with n streams and Sinkhorn, shared-KV MQA with sinks and partial RoPE (YaRN on
compressed layers), sliding window, CSA (overlapping two-series compressor + lightning indexer top-k)
and HCA compressors, grouped output projection, hash and top-k MoE with a shared expert.

Tensor names follow the transformers ("model.*") form, like tests/data/dsv4-tiny-a.
"""
import json
import math
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- config

def default_config():
    """The dsv4-mini configuration (transformers form, like tests/data/dsv4-tiny-a/config.json)."""
    return {
        "architectures": ["DeepseekV4ForCausalLM"],
        "model_type": "deepseek_v4",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 0,
        "eos_token_id": 1,
        "pad_token_id": None,
        "vocab_size": 8192,
        "hidden_size": 128,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
        "head_dim": 32,
        "qk_rope_head_dim": 8,
        "partial_rotary_factor": 0.25,
        "q_lora_rank": 64,
        "o_groups": 2,
        "o_lora_rank": 64,
        "layer_types": ["sliding_attention", "compressed_sparse_attention",
                        "heavily_compressed_attention", "compressed_sparse_attention"],
        "compress_rates": {"compressed_sparse_attention": 4, "heavily_compressed_attention": 16},
        "mlp_layer_types": ["hash_moe", "moe", "moe", "moe"],
        "sliding_window": 32,
        "index_n_heads": 4,
        "index_head_dim": 16,
        "index_topk": 8,
        "n_routed_experts": 8,
        "num_experts_per_tok": 2,
        "n_shared_experts": 1,
        "moe_intermediate_size": 128,
        "scoring_func": "sqrtsoftplus",
        "norm_topk_prob": True,
        "routed_scaling_factor": 1.5,
        "swiglu_limit": 10.0,
        "hidden_act": "silu",
        "hc_mult": 4,
        "hc_sinkhorn_iters": 20,
        "hc_eps": 1e-6,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "compress_rope_theta": 160000.0,
        "rope_parameters": {
            "main": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.25},
            "compress": {"rope_type": "yarn", "rope_theta": 160000.0, "partial_rotary_factor": 0.25,
                         "factor": 16.0, "original_max_position_embeddings": 64,
                         "beta_fast": 32.0, "beta_slow": 1.0, "attention_factor": 1.0},
        },
        "max_position_embeddings": 1024,
        "num_nextn_predict_layers": 0,
        "initializer_range": 0.02,
        "tie_word_embeddings": False,
        "mlp_bias": False,
        "dtype": "float32",
        "use_cache": True,
    }


def layer_ratio(cfg, i):
    t = cfg["layer_types"][i]
    return 0 if t == "sliding_attention" else cfg["compress_rates"][t]


# ---------------------------------------------------------------- small ops

def rms(x, eps):
    """md notation: rms(x) = x / sqrt(mean(x^2) + eps), in fp32."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def inv_freq_default(r, base):
    return 1.0 / base ** (torch.arange(0, r, 2, dtype=torch.float64) / r)


def inv_freq_yarn(r, base, factor, orig_max, beta_fast, beta_slow):
    """md "Attention": YaRN frequencies (attention factor 1: cos/sin not scaled)."""
    extrap = inv_freq_default(r, base)
    interp = extrap / factor

    def corr(b):
        return r * math.log(orig_max / (2 * math.pi * b)) / (2 * math.log(base))

    lo = max(math.floor(corr(beta_fast)), 0)
    hi = min(math.ceil(corr(beta_slow)), r - 1)
    if lo == hi:
        hi += 0.001
    i = torch.arange(r // 2, dtype=torch.float64)
    ramp = ((i - lo) / (hi - lo)).clamp(0, 1)
    return interp * ramp + extrap * (1 - ramp)


def rope(x, pos, inv_freq, inverse=False):
    """Rotate the LAST r dims of x (..., P, dim) in interleaved pairs (2i, 2i+1) by pos*inv_freq.
    pos: (P,) positions matching x's second-to-last axis."""
    r = inv_freq.numel() * 2
    ang = pos.to(torch.float32)[:, None] * inv_freq.to(torch.float32)[None, :]  # (P, r/2)
    c, s = torch.cos(ang), torch.sin(ang)
    if inverse:
        s = -s
    head, tail = x[..., :-r], x[..., -r:]
    a, b = tail[..., 0::2], tail[..., 1::2]
    ra = a * c - b * s
    rb = b * c + a * s
    tail = torch.stack([ra, rb], dim=-1).flatten(-2)
    return torch.cat([head, tail], dim=-1)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * rms(x, self.eps)


def linear(n_out, n_in):
    return nn.Linear(n_in, n_out, bias=False)


# ---------------------------------------------------------------- compressor (md "Compressed entries")

class Compressor(nn.Module):
    """Emits one entry per complete window of m tokens. overlap=True is the CSA two-series scheme
    (width 2*dim: first half Ca belongs to the NEXT window, second half Cb to its own)."""

    def __init__(self, D, dim, m, overlap, eps):
        super().__init__()
        w = 2 * dim if overlap else dim
        self.wkv = linear(w, D)
        self.wgate = linear(w, D)
        self.ape = nn.Parameter(torch.zeros(m, w))
        self.norm = RMSNorm(dim, eps)
        self.dim, self.m, self.overlap = dim, m, overlap

    def forward(self, x, inv_freq):
        B, T, _ = x.shape
        m, d = self.m, self.dim
        nw = T // m
        if nw == 0:
            return x.new_zeros(B, 0, d)
        xw = x[:, :nw * m]
        c = self.wkv(xw).view(B, nw, m, -1)
        z = self.wgate(xw).view(B, nw, m, -1) + self.ape  # ape[j mod m]
        if self.overlap:
            ca, cb = c[..., :d], c[..., d:]
            za, zb = z[..., :d], z[..., d:]
            # entry w: the Ca slots of window w-1, then the Cb slots of window w
            ca_prev = torch.cat([torch.zeros_like(ca[:, :1]), ca[:, :-1]], dim=1)
            za_prev = torch.cat([torch.full_like(za[:, :1], float("-inf")), za[:, :-1]], dim=1)
            c = torch.cat([ca_prev, cb], dim=2)  # (B, nw, 2m, d)
            z = torch.cat([za_prev, zb], dim=2)
        p = torch.softmax(z, dim=2)  # per channel over the slots
        e = (p * c).sum(dim=2)  # (B, nw, d)
        e = self.norm(e)
        pos = torch.arange(nw, device=x.device) * m
        return rope(e, pos, inv_freq)


# ---------------------------------------------------------------- attention (md "Attention")

class Indexer(nn.Module):
    def __init__(self, cfg, m):
        super().__init__()
        D, nI, dI = cfg["hidden_size"], cfg["index_n_heads"], cfg["index_head_dim"]
        self.wq_b = linear(nI * dI, cfg["q_lora_rank"])
        self.weights_proj = linear(nI, D)
        self.compressor = Compressor(D, dI, m, True, cfg["rms_norm_eps"])
        self.nI, self.dI, self.m, self.topk = nI, dI, m, cfg["index_topk"]

    def scores(self, qr, x, inv_freq):
        """I(t, s) = sum_h w_h relu(qI_h . K_s) / sqrt(dI), (B, T, S); ineligible entries -inf."""
        B, T, _ = x.shape
        K = self.compressor(x, inv_freq)  # (B, S, dI)
        S = K.shape[1]
        pos = torch.arange(T, device=x.device)
        q = self.wq_b(qr).view(B, T, self.nI, self.dI).transpose(1, 2)  # (B, nI, T, dI)
        q = rope(q, pos, inv_freq)
        w = self.weights_proj(x) / math.sqrt(self.nI)  # (B, T, nI)
        dots = torch.relu(torch.einsum("bhtd,bsd->bhts", q, K))
        I = torch.einsum("bhts,bth->bts", dots, w) / math.sqrt(self.dI)
        eligible = torch.arange(S, device=x.device)[None, :] < ((pos + 1) // self.m)[:, None]  # (T, S)
        return I.masked_fill(~eligible, float("-inf")), eligible

    def select(self, I, eligible):
        """Boolean (B, T, S): the top-k eligible entries per query (all of them if fewer)."""
        B, T, S = I.shape
        sel = torch.zeros(B, T, S, dtype=torch.bool, device=I.device)
        k = min(self.topk, S)
        if k > 0:
            # stable descending sort: exact ties (e.g. all-zero relu scores) go to the lower index
            idx = torch.sort(I, dim=-1, descending=True, stable=True).indices[..., :k]
            sel.scatter_(-1, idx, True)
        return sel & eligible


class Attention(nn.Module):
    def __init__(self, cfg, ratio, csa):
        super().__init__()
        D, H, d = cfg["hidden_size"], cfg["num_attention_heads"], cfg["head_dim"]
        G, olr, ql = cfg["o_groups"], cfg["o_lora_rank"], cfg["q_lora_rank"]
        eps = cfg["rms_norm_eps"]
        self.wq_a = linear(ql, D)
        self.q_norm = RMSNorm(ql, eps)
        self.wq_b = linear(H * d, ql)
        self.wkv = linear(d, D)
        self.kv_norm = RMSNorm(d, eps)
        self.wo_a = linear(G * olr, H * d // G)
        self.wo_b = linear(D, G * olr)
        self.attn_sink = nn.Parameter(torch.zeros(H))
        self.ratio = ratio
        if ratio:
            self.compressor = Compressor(D, d, ratio, csa, eps)  # CSA overlaps windows, HCA does not
        self.indexer = Indexer(cfg, ratio) if csa else None
        self.H, self.d, self.G, self.olr = H, d, G, olr
        self.W, self.eps = cfg["sliding_window"], eps
        self.aux_loss = None

    def forward(self, x, inv_freq, train_indexer=False):
        B, T, D = x.shape
        H, d = self.H, self.d
        pos = torch.arange(T, device=x.device)
        qr = self.q_norm(self.wq_a(x))
        q = self.wq_b(qr).view(B, T, H, d).transpose(1, 2)  # (B, H, T, d)
        q = rms(q, self.eps)  # per-head rms, no weight
        q = rope(q, pos, inv_freq)
        kv = rope(self.kv_norm(self.wkv(x)), pos, inv_freq)  # (B, T, d)
        # sliding window: key s visible to query t iff t-W < s <= t
        diff = pos[:, None] - pos[None, :]
        win = (diff >= 0) & (diff < self.W)  # (T, T)
        keys = kv
        mask = win.expand(B, T, T)
        self.aux_loss = None
        if self.ratio:
            E = self.compressor(x, inv_freq)  # (B, S, d)
            S = E.shape[1]
            if self.indexer is not None:
                I, eligible = self.indexer.scores(qr.detach() if train_indexer else qr,
                                                  x.detach() if train_indexer else x, inv_freq)
                cmask = self.indexer.select(I.detach(), eligible)
            else:
                eligible = torch.arange(S, device=x.device)[None, :] < ((pos + 1) // self.ratio)[:, None]
                cmask = eligible.expand(B, T, S)
            keys = torch.cat([kv, E], dim=1)
            mask = torch.cat([mask, cmask], dim=2)
        logits = torch.einsum("bhtd,bsd->bhts", q, keys) / math.sqrt(d)
        logits = logits.masked_fill(~mask[:, None], float("-inf"))
        # the sink joins the softmax denominator only (md "Attention")
        sink = self.attn_sink.view(1, H, 1, 1).expand(B, H, T, 1)
        p = torch.softmax(torch.cat([logits, sink], dim=-1), dim=-1)[..., :-1]
        o = torch.einsum("bhts,bsd->bhtd", p, keys)
        o = rope(o, pos, inv_freq, inverse=True)
        if self.indexer is not None and train_indexer:
            self.aux_loss = self.indexer_kl(logits[..., T:].detach(), I, eligible)
        # grouped output projection
        o = o.transpose(1, 2).reshape(B, T, self.G, H * d // self.G)
        wa = self.wo_a.weight.view(self.G, self.olr, H * d // self.G)
        o = torch.einsum("btgi,goi->btgo", o, wa).reshape(B, T, self.G * self.olr)
        return self.wo_b(o)

    @staticmethod
    def indexer_kl(main_logits, I, eligible):
        """Auxiliary indexer objective (as in DeepSeek-V3.2's indexer warm-up): KL from the main
        attention's distribution over ALL eligible compressed entries (head-averaged, detached)
        to softmax(I). Trains only the indexer's own weights (its inputs are detached)."""
        rows = eligible.any(-1)  # queries with at least one eligible entry
        if not rows.any():
            return None
        ml = main_logits.masked_fill(~eligible[None, None], float("-inf"))[:, :, rows]
        target = torch.softmax(ml, dim=-1).mean(1)  # (B, R, S)
        logq = torch.log_softmax(I[:, rows], dim=-1)
        logq = logq.masked_fill(~eligible[rows][None], 0.0)
        return (target * (torch.log(target.clamp_min(1e-12)) - logq)).sum(-1).mean()


# ---------------------------------------------------------------- MoE (md "MoE")

class Expert(nn.Module):
    def __init__(self, D, inter, limit):
        super().__init__()
        self.w1 = linear(inter, D)
        self.w2 = linear(D, inter)
        self.w3 = linear(inter, D)
        self.limit = limit

    def forward(self, x):
        L = self.limit
        return self.w2(F.silu(self.w1(x).clamp(max=L)) * self.w3(x).clamp(-L, L))


class Gate(nn.Module):
    def __init__(self, cfg, hash_layer):
        super().__init__()
        E, D = cfg["n_routed_experts"], cfg["hidden_size"]
        self.weight = nn.Parameter(torch.empty(E, D))
        if hash_layer:
            # fixed random token -> experts table (k distinct experts per token)
            g = torch.Generator().manual_seed(1234)
            tid = torch.stack([torch.randperm(E, generator=g)[:cfg["num_experts_per_tok"]]
                               for _ in range(cfg["vocab_size"])])
            self.register_buffer("tid2eid", tid.to(torch.int64))
            self.bias = None
        else:
            self.register_buffer("bias", torch.zeros(E))  # choice only; balanced outside the graph
            self.tid2eid = None


class MoE(nn.Module):
    def __init__(self, cfg, hash_layer):
        super().__init__()
        D, inter, L = cfg["hidden_size"], cfg["moe_intermediate_size"], cfg["swiglu_limit"]
        self.gate = Gate(cfg, hash_layer)
        self.experts = nn.ModuleList(Expert(D, inter, L) for _ in range(cfg["n_routed_experts"]))
        self.shared_experts = Expert(D, inter * cfg["n_shared_experts"], L)
        self.k, self.scale = cfg["num_experts_per_tok"], cfg["routed_scaling_factor"]
        self.load = None

    def forward(self, x, tokens):
        B, T, D = x.shape
        xf = x.reshape(-1, D)
        s = torch.sqrt(F.softplus(xf @ self.gate.weight.t()))  # (N, E)
        if self.gate.tid2eid is not None:
            idx = self.gate.tid2eid[tokens.reshape(-1)]
        else:
            idx = torch.topk(s.detach() + self.gate.bias, self.k, dim=-1).indices
        w = s.gather(1, idx)
        w = w / w.sum(-1, keepdim=True) * self.scale
        out = self.shared_experts(xf)
        E = len(self.experts)
        self.load = torch.bincount(idx.reshape(-1), minlength=E).float()
        for e in range(E):
            rows, slot = (idx == e).nonzero(as_tuple=True)
            if rows.numel() == 0:
                continue
            y = self.experts[e](xf[rows]) * w[rows, slot, None]
            out = out.index_add(0, rows, y)
        return out.view(B, T, D)


# ---------------------------------------------------------------- mHC block (md "Block")

class HyperConn(nn.Module):
    def __init__(self, n, D):
        super().__init__()
        self.fn = nn.Parameter(torch.empty((2 + n) * n, n * D))
        self.base = nn.Parameter(torch.zeros((2 + n) * n))
        self.scale = nn.Parameter(torch.ones(3))
        self.n = n


def hc_pre(hc, X, eps, eps_hc, iters):
    """X (B, T, n, D) -> u (B, T, D), post (B, T, n), C (B, T, n, n)."""
    B, T, n, D = X.shape
    f = rms(X.reshape(B, T, n * D), eps)
    mix = f @ hc.fn.t()
    pre = torch.sigmoid(mix[..., :n] * hc.scale[0] + hc.base[:n]) + eps_hc
    post = 2 * torch.sigmoid(mix[..., n:2 * n] * hc.scale[1] + hc.base[n:2 * n])
    comb = (mix[..., 2 * n:] * hc.scale[2] + hc.base[2 * n:]).view(B, T, n, n)
    C = torch.softmax(comb, dim=-1) + eps_hc  # C[j][k], softmax over k
    C = C / (C.sum(-2, keepdim=True) + eps_hc)  # columns
    for _ in range(iters - 1):
        C = C / (C.sum(-1, keepdim=True) + eps_hc)  # rows
        C = C / (C.sum(-2, keepdim=True) + eps_hc)  # columns
    u = (pre[..., None] * X).sum(2)
    return u, post, C


def hc_post(a, X, post, C):
    # X'_k = post_k * a + sum_j C[j][k] X_j
    return post[..., None] * a[:, :, None, :] + torch.einsum("btjk,btjd->btkd", C, X)


class Block(nn.Module):
    def __init__(self, cfg, i):
        super().__init__()
        n, D, eps = cfg["hc_mult"], cfg["hidden_size"], cfg["rms_norm_eps"]
        self.attn_norm = RMSNorm(D, eps)
        self.ffn_norm = RMSNorm(D, eps)
        self.hc_attn = HyperConn(n, D)
        self.hc_ffn = HyperConn(n, D)
        self.ratio = layer_ratio(cfg, i)
        self.attn = Attention(cfg, self.ratio, cfg["layer_types"][i] == "compressed_sparse_attention")
        self.ffn = MoE(cfg, cfg["mlp_layer_types"][i] == "hash_moe")
        self.eps, self.eps_hc, self.iters = eps, cfg["hc_eps"], cfg["hc_sinkhorn_iters"]

    def forward(self, X, tokens, inv_freq, train_indexer=False):
        u, post, C = hc_pre(self.hc_attn, X, self.eps, self.eps_hc, self.iters)
        a = self.attn(self.attn_norm(u), inv_freq, train_indexer)
        X = hc_post(a, X, post, C)
        u, post, C = hc_pre(self.hc_ffn, X, self.eps, self.eps_hc, self.iters)
        a = self.ffn(self.ffn_norm(u), tokens)
        return hc_post(a, X, post, C)


class DSV4(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        n, D, V = cfg["hc_mult"], cfg["hidden_size"], cfg["vocab_size"]
        self.embed = nn.Embedding(V, D)
        self.layers = nn.ModuleList(Block(cfg, i) for i in range(cfg["num_hidden_layers"]))
        self.norm = RMSNorm(D, cfg["rms_norm_eps"])
        self.head = linear(V, D)
        self.hc_head_fn = nn.Parameter(torch.empty(n, n * D))
        self.hc_head_base = nn.Parameter(torch.zeros(n))
        self.hc_head_scale = nn.Parameter(torch.ones(1))
        r = cfg["qk_rope_head_dim"]
        self.register_buffer("inv_main", inv_freq_default(r, cfg["rope_parameters"]["main"]["rope_theta"]).float())
        cp = cfg["rope_parameters"]["compress"]
        self.register_buffer("inv_comp", inv_freq_yarn(r, cp["rope_theta"], cp["factor"],
                                                       cp["original_max_position_embeddings"],
                                                       cp["beta_fast"], cp["beta_slow"]).float())
        self.reset_parameters()

    def reset_parameters(self, std=None):
        std = std or self.cfg["initializer_range"]
        n = self.cfg["hc_mult"]
        for name, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, 0.0, std)
        for layer in self.layers:
            for hc in (layer.hc_attn, layer.hc_ffn):
                nn.init.normal_(hc.fn, 0.0, std)
                with torch.no_grad():
                    # comb starts near the identity so the n streams stay distinct
                    hc.base[2 * n:] = torch.eye(n).flatten() * 2.0
        nn.init.normal_(self.hc_head_fn, 0.0, std)

    def forward(self, tokens, train_indexer=False):
        """tokens (B, T) -> logits (B, T, V)."""
        cfg = self.cfg
        n = cfg["hc_mult"]
        e = self.embed(tokens)
        X = e[:, :, None, :].expand(-1, -1, n, -1)
        for layer in self.layers:
            inv = self.inv_comp if layer.ratio else self.inv_main
            X = layer(X, tokens, inv, train_indexer)
        B, T, _, D = X.shape
        f = rms(X.reshape(B, T, n * D), cfg["rms_norm_eps"])
        p = torch.sigmoid((f @ self.hc_head_fn.t()) * self.hc_head_scale + self.hc_head_base) + cfg["hc_eps"]
        y = (p[..., None] * X).sum(2)
        return self.head(self.norm(y))

    # ------------------------------------------------------------ checkpoint (transformers names)

    def state_for_engine(self):
        """name -> tensor, in the transformers form that dsv4 loads."""
        out = {"model.embed_tokens.weight": self.embed.weight, "head.weight": self.head.weight,
               "model.norm.weight": self.norm.weight, "model.hc_head.hc_fn": self.hc_head_fn,
               "model.hc_head.hc_base": self.hc_head_base, "model.hc_head.hc_scale": self.hc_head_scale}
        for i, L in enumerate(self.layers):
            p = f"model.layers.{i}."
            out[p + "attn_norm.weight"] = L.attn_norm.weight
            out[p + "ffn_norm.weight"] = L.ffn_norm.weight
            for nm, hc in (("attn", L.hc_attn), ("ffn", L.hc_ffn)):
                out[p + f"hc_{nm}_fn"] = hc.fn
                out[p + f"hc_{nm}_base"] = hc.base
                out[p + f"hc_{nm}_scale"] = hc.scale
            a = L.attn
            for nm in ("wq_a", "wq_b", "wkv", "wo_a", "wo_b"):
                out[p + f"attn.{nm}.weight"] = getattr(a, nm).weight
            out[p + "attn.q_norm.weight"] = a.q_norm.weight
            out[p + "attn.norm.weight"] = a.kv_norm.weight  # transformers' name for kv_norm
            out[p + "attn.attn_sink"] = a.attn_sink
            comps = []
            if a.ratio:
                comps.append(("attn.compressor.", a.compressor))
            if a.indexer is not None:
                out[p + "attn.indexer.wq_b.weight"] = a.indexer.wq_b.weight
                out[p + "attn.indexer.weights_proj.weight"] = a.indexer.weights_proj.weight
                comps.append(("attn.indexer.compressor.", a.indexer.compressor))
            for q, c in comps:
                out[p + q + "wkv.weight"] = c.wkv.weight
                out[p + q + "wgate.weight"] = c.wgate.weight
                out[p + q + "norm.weight"] = c.norm.weight
                out[p + q + "ape"] = c.ape
            f = L.ffn
            out[p + "ffn.gate.weight"] = f.gate.weight
            if f.gate.tid2eid is not None:
                out[p + "ffn.gate.tid2eid"] = f.gate.tid2eid
            else:
                out[p + "ffn.gate.bias"] = f.gate.bias
            for e, ex in enumerate(f.experts):
                for w in ("w1", "w2", "w3"):
                    out[p + f"ffn.experts.{e}.{w}.weight"] = getattr(ex, w).weight
            for w in ("w1", "w2", "w3"):
                out[p + f"ffn.shared_experts.{w}.weight"] = getattr(f.shared_experts, w).weight
        return out

    def load_engine_state(self, tensors):
        own = self.state_for_engine()
        missing = set(own) - set(tensors)
        if missing:
            raise KeyError(f"missing tensors: {sorted(missing)[:5]}")
        with torch.no_grad():
            for k, t in own.items():
                t.copy_(tensors[k])


# ---------------------------------------------------------------- safetensors by hand

_DT = {torch.float32: ("F32", 4), torch.int64: ("I64", 8), torch.int32: ("I32", 4)}
_DT_BACK = {"F32": torch.float32, "I64": torch.int64, "I32": torch.int32}


def save_safetensors(path, tensors, metadata=None):
    """Header: u64 little-endian length, JSON {name: {dtype, shape, data_offsets}}, then the data."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        dt, _ = _DT[t.dtype]
        b = t.numpy().tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)  # align the data to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    import numpy as np
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    np_dt = {"F32": np.float32, "I64": np.int64, "I32": np.int32}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=np_dt[v["dtype"]]).reshape(v["shape"])
        out[k] = torch.from_numpy(arr.copy())
    return out
