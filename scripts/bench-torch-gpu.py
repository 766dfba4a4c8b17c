"""PyTorch (transformers) reference for `rapport bench --device cuda`: the same encoder on the
same GPU, mean-pooled and L2-normalised embeddings of the texts, batch by batch, each batch's
embeddings copied back to the host (as rapport's encoder-only figure does), tokenizing included.

usage: bench-torch-gpu.py MODEL_DIR TEXTS [BATCHES=32] [sorted|unsorted] [DTYPES=fp32] [PREFIX]

MODEL_DIR is the HF layout written by `rapport models export-hf`. BATCHES (e.g. 32,256) and
DTYPES (fp32, fp16, bf16, e.g. fp32,fp16) are comma-separated: every pair is run, in one process.
PREFIX (default "query: ", as rapport puts before every text) is prepended to each text. Prints
one line per pair: msgs/s, tok/s.
"""
import sys
import time

import torch
from transformers import AutoModel, AutoTokenizer

model_dir, texts_file = sys.argv[1], sys.argv[2]
batches = [int(b) for b in (sys.argv[3] if len(sys.argv) > 3 else "32").split(",")]
sort = len(sys.argv) > 4 and sys.argv[4] == "sorted"
dtype_names = (sys.argv[5] if len(sys.argv) > 5 else "fp32").split(",")
prefix = sys.argv[6] if len(sys.argv) > 6 else "query: "
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}

texts = [prefix + line.rstrip("\n") for line in open(texts_file, encoding="utf-8") if line.strip()]
if sort:
    texts.sort(key=len)
tok = AutoTokenizer.from_pretrained(model_dir)


def run(model, ts, batch):
    n_tok = 0
    with torch.inference_mode():
        for i in range(0, len(ts), batch):
            enc = tok(ts[i:i + batch], padding=True, truncation=True, max_length=256,
                      return_tensors="pt").to("cuda")
            n_tok += int(enc["attention_mask"].sum())
            out = model(**enc).last_hidden_state.float()
            m = enc["attention_mask"].unsqueeze(-1).float()
            e = (out * m).sum(1) / m.sum(1)
            _ = torch.nn.functional.normalize(e, dim=-1).cpu()
    return n_tok


for dtype_name in dtype_names:
    model = AutoModel.from_pretrained(model_dir, dtype=DTYPES[dtype_name]).to("cuda").eval()
    for batch in batches:
        # Warm-up: a first pass over every text, so that each batch shape has been seen (its
        # rate is printed too: PyTorch may plan kernels per shape on first sight).
        torch.cuda.synchronize()
        t = time.perf_counter()
        run(model, texts, batch)
        first = len(texts) / (time.perf_counter() - t)
        t = time.perf_counter()
        n_tok = run(model, texts, batch)
        dt = time.perf_counter() - t
        print(f"torch {torch.__version__} cuda {dtype_name} batch={batch} sorted={sort} "
              f"attn={model.config._attn_implementation} msgs={len(texts)} "
              f"msgs/s={len(texts) / dt:.1f} tok/s={n_tok / dt:.0f} secs={dt:.3f} "
              f"first-pass msgs/s={first:.1f}", flush=True)
    del model
