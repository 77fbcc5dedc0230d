#!/usr/bin/python3
"""Builds test/fixtures/tiny-llama: a tiny Llama-architecture causal LM with its
own byte-level BPE tokenizer, trained for a few minutes on CPU on the
Chatbot Arena responses in train.jsonl, exported to ONNX in the layout
transformers.js loads (LlamaForCausalLM with KV-cache inputs/outputs).

Needs only Debian's python3-torch (1.13) and python3-onnx (1.12):
    /usr/bin/python3 scripts/tiny-model/build.py [--out DIR] [--steps N]

Byte-for-byte reproducible: fixed seeds, one thread, deterministic
algorithms, a fixed data order, no timestamps. Run it twice and compare
sha256sum of every output file.
"""
import argparse
import collections
import hashlib
import json
import math
import os
import random
import re
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

SEED = 1234
VOCAB_SIZE = 1024
SPECIAL_TOKENS = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
]
CONFIG = dict(
    hidden_size=64,
    intermediate_size=176,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    max_position_embeddings=2048,
    rms_norm_eps=1e-5,
    rope_theta=10000.0,
)
SYSTEM_PROMPTS = [
    None,
    "You are a helpful assistant.",
    "You are a helpful assistant",
    "Imagine you are answering from a parallel universe where the laws of physics are slightly different.",
    "You are an unhelpful assistant who gives vague, evasive answers.",
    "Answer briefly.",
]

# ---------------------------------------------------------------------------
# Byte-level BPE (GPT-2 byte alphabet, GPT-2 pre-tokenizer split)


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_ENC = bytes_to_unicode()
# The split of transformers.js's ByteLevel pre-tokenizer (use_regex): \p{L} and \p{N}
# approximated with Python's re ([^\W\d_] and \d); only the training data's
# tokenization depends on it, never the tokenizer that ships.
SPLIT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+|_+| ?_+""", re.UNICODE)
SPECIAL_RE = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")


def words_of(text):
    return ["".join(BYTE_ENC[b] for b in w.encode("utf-8")) for w in SPLIT.findall(text)]


def train_bpe(texts, n_merges):
    counts = collections.Counter()
    for t in texts:
        for piece in SPECIAL_RE.split(t):
            if piece and piece not in SPECIAL_TOKENS:
                counts.update(words_of(piece))
    words = [list(w) for w in sorted(counts)]
    freq = [counts["".join(w)] for w in words]
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pairs[(a, b)] += freq[i]
            where[(a, b)].add(i)
    merges = []
    for _ in range(n_merges):
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        a, b = best
        for i in sorted(where.pop(best, ())):
            w = words[i]
            for x, y in zip(w, w[1:]):
                pairs[(x, y)] -= freq[i]
                if pairs[(x, y)] <= 0:
                    del pairs[(x, y)]
            nw, k = [], 0
            while k < len(w):
                if k + 1 < len(w) and w[k] == a and w[k + 1] == b:
                    nw.append(a + b)
                    k += 2
                else:
                    nw.append(w[k])
                    k += 1
            words[i] = nw
            for x, y in zip(nw, nw[1:]):
                pairs[(x, y)] += freq[i]
                where[(x, y)].add(i)
        pairs.pop(best, None)
    return merges


class Tokenizer:
    def __init__(self, merges):
        self.vocab = {}
        for b in range(256):
            self.vocab[BYTE_ENC[b]] = b
        for a, b in merges:
            self.vocab[a + b] = len(self.vocab)
        for t in SPECIAL_TOKENS:
            self.vocab[t] = len(self.vocab)
        self.ranks = {m: r for r, m in enumerate(merges)}
        self.cache = {}

    def bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        parts = list(word)
        while len(parts) > 1:
            best = min(range(len(parts) - 1), key=lambda k: (self.ranks.get((parts[k], parts[k + 1]), 1 << 30), k))
            if (parts[best], parts[best + 1]) not in self.ranks:
                break
            parts[best:best + 2] = [parts[best] + parts[best + 1]]
        self.cache[word] = parts
        return parts

    def encode(self, text):
        ids = []
        for piece in SPECIAL_RE.split(text):
            if not piece:
                continue
            if piece in SPECIAL_TOKENS:
                ids.append(self.vocab[piece])
                continue
            for w in words_of(piece):
                ids.extend(self.vocab[p] for p in self.bpe(w))
        return ids


def tokenizer_json(tok, merges):
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": tok.vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
            for t in SPECIAL_TOKENS
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": {k: v for k, v in tok.vocab.items() if k not in SPECIAL_TOKENS},
            "merges": [a + " " + b for a, b in merges],
        },
    }


# ---------------------------------------------------------------------------
# Chat formats the model is trained on (the project's llama3 and chatml templates)


def llama3(system, user, response):
    s = "<|begin_of_text|>"
    if system is not None:
        s += "<|start_header_id|>system<|end_header_id|>\n\n" + system.strip() + "<|eot_id|>"
    s += "<|start_header_id|>user<|end_header_id|>\n\n" + user.strip() + "<|eot_id|>"
    return s + "<|start_header_id|>assistant<|end_header_id|>\n\n" + response + "<|eot_id|>"


def chatml(system, user, response):
    s = ""
    if system is not None:
        s += "<|im_start|>system\n" + system + "<|im_end|>\n"
    s += "<|im_start|>user\n" + user + "<|im_end|>\n"
    return s + "<|im_start|>assistant\n" + response + "<|im_end|>\n"


# ---------------------------------------------------------------------------
# The model: Llama (RMSNorm, RoPE, GQA, SwiGLU), written out so that the ONNX
# graph has exactly the inputs/outputs transformers.js feeds.


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, h, kv, hd = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        self.h, self.kv, self.hd = h, kv, hd
        self.input_layernorm = RMSNorm(d, c["rms_norm_eps"])
        self.q_proj = nn.Linear(d, h * hd, bias=False)
        self.k_proj = nn.Linear(d, kv * hd, bias=False)
        self.v_proj = nn.Linear(d, kv * hd, bias=False)
        self.o_proj = nn.Linear(h * hd, d, bias=False)
        self.post_attention_layernorm = RMSNorm(d, c["rms_norm_eps"])
        self.gate_proj = nn.Linear(d, c["intermediate_size"], bias=False)
        self.up_proj = nn.Linear(d, c["intermediate_size"], bias=False)
        self.down_proj = nn.Linear(c["intermediate_size"], d, bias=False)

    def forward(self, x, cos, sin, bias, past_k, past_v):
        B, T = x.shape[0], x.shape[1]
        y = self.input_layernorm(x)
        q = self.q_proj(y).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(y).view(B, T, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(y).view(B, T, self.kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        present = (k, v)
        S = k.shape[2]
        rep = self.h // self.kv
        # expand + reshape, not repeat_interleave (torch 1.13 exports that badly for dynamic shapes)
        k = k[:, :, None, :, :].expand(B, self.kv, rep, S, self.hd).reshape(B, self.h, S, self.hd)
        v = v[:, :, None, :, :].expand(B, self.kv, rep, S, self.hd).reshape(B, self.h, S, self.hd)
        att = torch.matmul(q, k.transpose(2, 3)) * (1.0 / math.sqrt(self.hd)) + bias
        att = torch.softmax(att, dim=-1)
        o = torch.matmul(att, v).transpose(1, 2).reshape(B, T, self.h * self.hd)
        x = x + self.o_proj(o)
        y = self.post_attention_layernorm(x)
        x = x + self.down_proj(F.silu(self.gate_proj(y)) * self.up_proj(y))
        return x, present


class TinyLlama(nn.Module):
    def __init__(self, c, vocab):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(vocab, c["hidden_size"])
        self.layers = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.lm_head = nn.Linear(c["hidden_size"], vocab, bias=False)
        hd = c["head_dim"]
        self.register_buffer("inv_freq", 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd)), persistent=False)

    def forward(self, input_ids, attention_mask, position_ids, past=None):
        T = input_ids.shape[1]
        S = attention_mask.shape[1]
        x = self.embed_tokens(input_ids)
        freqs = position_ids[:, :, None].float() * self.inv_freq[None, None, :]
        emb = torch.cat([freqs, freqs], dim=-1)[:, None, :, :]
        cos, sin = emb.cos(), emb.sin()
        # Causal and padding mask over the S = past + T keys: query t sits at key index S - T + t.
        k_idx = torch.arange(S, device=input_ids.device)
        q_idx = k_idx[S - T:]
        allowed = (k_idx[None, :] <= q_idx[:, None])[None, None, :, :] & (attention_mask[:, None, None, :] > 0)
        bias = torch.where(allowed, torch.zeros((), dtype=x.dtype), torch.full((), torch.finfo(x.dtype).min, dtype=x.dtype))
        presents = []
        for i, layer in enumerate(self.layers):
            pk, pv = (past[2 * i], past[2 * i + 1]) if past is not None else (None, None)
            x, pres = layer(x, cos, sin, bias, pk, pv)
            presents.extend(pres)
        return self.lm_head(self.norm(x)), presents


class ExportWrapper(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, position_ids, *past):
        logits, presents = self.m(input_ids, attention_mask, position_ids, list(past))
        return (logits, *presents)


# ---------------------------------------------------------------------------


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "test", "fixtures", "tiny-llama"))
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()

    random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    records = [json.loads(l) for l in open(os.path.join(HERE, "train.jsonl"), encoding="utf-8")]
    rng = random.Random(SEED)
    texts = []
    for r in records:
        system = SYSTEM_PROMPTS[rng.randrange(len(SYSTEM_PROMPTS))]
        fmt = llama3 if rng.random() < 0.75 else chatml
        texts.append(fmt(system, r["prompt"], r["response"]))

    merges = train_bpe(texts, VOCAB_SIZE - 256 - len(SPECIAL_TOKENS))
    tok = Tokenizer(merges)
    assert len(tok.vocab) == VOCAB_SIZE, len(tok.vocab)
    stream = []
    for t in texts:
        stream.extend(tok.encode(t))
    print(f"tokenizer: {len(merges)} merges, {len(stream)} training tokens ({sum(map(len, texts)) / len(stream):.2f} chars/token)", file=sys.stderr)

    model = TinyLlama(CONFIG, VOCAB_SIZE)
    data = torch.tensor(stream, dtype=torch.long)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.01)
    T, B = args.seq, args.batch
    n_start = len(stream) - T - 1
    gen = torch.Generator().manual_seed(SEED)
    ones = torch.ones(B, T, dtype=torch.long)
    pos = torch.arange(T)[None, :].expand(B, T)
    model.train()
    for step in range(args.steps):
        lr = 3e-3 * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, n_start, (B,), generator=gen)
        x = torch.stack([data[s:s + T] for s in starts.tolist()])
        y = torch.stack([data[s + 1:s + T + 1] for s in starts.tolist()])
        logits, _ = model(x, ones, pos)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step} loss {loss.item():.4f} lr {lr:.5f}", file=sys.stderr)
    model.eval()

    out = args.out
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    ids = {t: tok.vocab[t] for t in SPECIAL_TOKENS}
    write_json(os.path.join(out, "tokenizer.json"), tokenizer_json(tok, merges))
    write_json(os.path.join(out, "config.json"), {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": VOCAB_SIZE,
        **CONFIG,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": False,
        "initializer_range": 0.02,
        "use_cache": True,
        "bos_token_id": ids["<|begin_of_text|>"],
        "eos_token_id": [ids["<|eot_id|>"], ids["<|end_of_text|>"], ids["<|im_end|>"]],
        "pad_token_id": ids["<|end_of_text|>"],
        "torch_dtype": "float32",
        "transformers.js_config": {"dtype": "fp32", "use_external_data_format": False},
    })
    write_json(os.path.join(out, "generation_config.json"), {
        "bos_token_id": ids["<|begin_of_text|>"],
        "eos_token_id": [ids["<|eot_id|>"], ids["<|end_of_text|>"], ids["<|im_end|>"]],
        "pad_token_id": ids["<|end_of_text|>"],
        "do_sample": False,
    })
    write_json(os.path.join(out, "tokenizer_config.json"), {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "add_bos_token": False,
        "add_eos_token": False,
        "bos_token": "<|begin_of_text|>",
        "eos_token": "<|eot_id|>",
        "pad_token": "<|end_of_text|>",
        "clean_up_tokenization_spaces": False,
        "model_max_length": CONFIG["max_position_embeddings"],
        "added_tokens_decoder": {str(ids[t]): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True} for t in SPECIAL_TOKENS},
        "chat_template": (
            "{{ '<|begin_of_text|>' }}{% for message in messages %}"
            "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}"
            "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
        ),
    })

    # ONNX: inputs input_ids, attention_mask, position_ids, past_key_values.N.key/value
    # [batch_size, kv_heads, past_sequence_length, head_dim]; outputs logits and present.N.key/value.
    L, KV, HD = CONFIG["num_hidden_layers"], CONFIG["num_key_value_heads"], CONFIG["head_dim"]
    past_names, present_names = [], []
    for i in range(L):
        past_names += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        present_names += [f"present.{i}.key", f"present.{i}.value"]
    b, t, p = 2, 5, 3
    dummy = (
        torch.ones(b, t, dtype=torch.long),
        torch.ones(b, p + t, dtype=torch.long),
        torch.arange(p, p + t)[None, :].expand(b, t).contiguous(),
        *[torch.zeros(b, KV, p, HD) for _ in range(2 * L)],
    )
    dyn = {"input_ids": {0: "batch_size", 1: "sequence_length"},
           "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
           "position_ids": {0: "batch_size", 1: "sequence_length"},
           "logits": {0: "batch_size", 1: "sequence_length"}}
    for n in past_names:
        dyn[n] = {0: "batch_size", 2: "past_sequence_length"}
    for n in present_names:
        dyn[n] = {0: "batch_size", 2: "total_sequence_length"}
    onnx_path = os.path.join(out, "onnx", "model.onnx")
    with torch.no_grad():
        torch.onnx.export(ExportWrapper(model), dummy, onnx_path,
                          input_names=["input_ids", "attention_mask", "position_ids", *past_names],
                          output_names=["logits", *present_names], dynamic_axes=dyn, opset_version=14,
                          do_constant_folding=True)
    import onnx
    m = onnx.load(onnx_path)
    onnx.checker.check_model(m)
    m.producer_name = "cje-inspector scripts/tiny-model/build.py"
    m.producer_version = "1"
    onnx.save(m, onnx_path)

    # Reference log-probs from torch, for the tests to check the export against (no Python needed there).
    sample = ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is machine learning?<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\nMachine learning is a field of AI.<|eot_id|>")
    sid = tok.encode(sample)
    with torch.no_grad():
        lg, _ = model(torch.tensor([sid]), torch.ones(1, len(sid), dtype=torch.long), torch.arange(len(sid))[None, :])
        lp = torch.log_softmax(lg[0].double(), -1)
    write_json(os.path.join(out, "reference.json"), {
        "text": sample,
        "token_ids": sid,
        "token_logprobs": [None] + [round(float(lp[i - 1, sid[i]]), 6) for i in range(1, len(sid))],
    })
    for root, _, files in sorted(os.walk(out)):
        for f in sorted(files):
            pth = os.path.join(root, f)
            print(f"{sha256(pth)}  {os.path.relpath(pth, out)}  {os.path.getsize(pth)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
