#!/usr/bin/env python3
"""Side-by-side LoRA training throughput and peak memory: PyTorch + HF PEFT versus `./fedlora bench train`.

The same workload on both sides: the same HF model directory, LoRA (rank r, alpha 16, no dropout) on the same target
modules, fixed-length batches of random tokens with every position a target (mean token cross-entropy), global-norm
clipping at 1.0, fp32 AdamW (lr 1e-3, no weight decay), the same thread count (torch.set_num_threads and
OMP/OpenBLAS threads). Token values are drawn independently on each side: speed does not depend on them.
Each measurement runs in its own process (peak RSS = that process's VmHWM); fedlora and PyTorch runs are
interleaved and repeated, so load from other work on the machine hits both; ranges are printed.

A measurement tool, not a test (CI has no PyTorch). Needs torch, transformers, peft (e.g. /work/pyenv).

  /work/pyenv/bin/python bench/torch_side_by_side.py --shape gpt2-small --batch 4 --seq 256 --threads 1,2 --steps 5
  /work/pyenv/bin/python bench/torch_side_by_side.py --model DIR --targets c_attn,c_proj,c_fc --threads 2
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = {
    # name: (n_layer, n_head, n_embd, n_positions, vocab_size)
    "init-model": (2, 4, 64, 64, 257),
    "gpt2-small": (12, 12, 768, 1024, 50257),
}


def peak_rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return -1


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def write_random_model(shape, out_dir, seed):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    n_layer, n_head, n_embd, n_pos, vocab = SHAPES[shape]
    torch.manual_seed(seed)
    cfg = GPT2Config(n_layer=n_layer, n_head=n_head, n_embd=n_embd, n_positions=n_pos, vocab_size=vocab,
                     activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     tie_word_embeddings=True, bos_token_id=vocab - 1, eos_token_id=vocab - 1)
    GPT2LMHeadModel(cfg).save_pretrained(out_dir, safe_serialization=True)


def default_warmup(model, batch, seq):
    """fedlora's rule (TrainBenchmark.defaultWarmup): enough steps for 1e11 matmul FLOPs, 2 to 20.

    The step's FLOPs as fedlora counts them: the forward's projections and causal attention, the same again for the
    activation gradients (adapters in every layer), and the LM head twice.
    """
    cfg = model.config
    n = batch * seq
    block0 = sum(p.numel() for name, p in model.named_parameters()
                 if p.dim() == 2 and ".h.0." in name and "lora_" not in name)
    per_layer = 2 * n * block0 + 2 * batch * cfg.n_head * seq * seq * (cfg.n_embd // cfg.n_head)
    flops = 2 * (per_layer * cfg.n_layer + 2 * n * cfg.n_embd * cfg.vocab_size)
    return int(max(2, min(20, math.ceil(1e11 / flops))))


def torch_worker(a):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import GPT2LMHeadModel
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = GPT2LMHeadModel.from_pretrained(a.model, torch_dtype=torch.float32)
    model.config.use_cache = False
    cfg = LoraConfig(r=a.rank, lora_alpha=16, lora_dropout=0.0, target_modules=a.targets.split(","),
                     fan_in_fan_out=True, bias="none")
    model = get_peft_model(model, cfg)
    if a.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.train()
    vocab = model.config.vocab_size
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(a.seed)
    batches = [torch.randint(0, vocab, (a.batch, a.seq + 1), generator=g) for _ in range(min(a.steps, 8))]

    def train_step(x):
        logits = model(input_ids=x[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), x[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    def fwd_step(x):
        with torch.no_grad():
            logits = model(input_ids=x[:, :-1]).logits
            torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), x[:, 1:].reshape(-1))

    warm = a.warmup if a.warmup >= 0 else default_warmup(model, a.batch, a.seq)
    out = {}
    for name, fn in (("train", train_step), ("forward", fwd_step)):
        # fedlora's warm-up rule: at least `warm` steps and at least --warmup-seconds
        i, w0 = 0, time.perf_counter()
        while i < warm or time.perf_counter() - w0 < a.warmup_seconds:
            fn(batches[i % len(batches)])
            i += 1
        out[name + "_warmup_steps"] = i
        reset_peak_rss()
        t0 = time.perf_counter()
        for i in range(a.steps):
            fn(batches[i % len(batches)])
        sec = time.perf_counter() - t0
        tokens = a.batch * a.seq * a.steps
        out[name] = {"tokens_per_second": tokens / sec, "ms_per_step": 1000 * sec / a.steps, "peak_rss_bytes": peak_rss()}
    out["peak_rss_bytes"] = max(out["train"]["peak_rss_bytes"], out["forward"]["peak_rss_bytes"])
    out["torch"] = torch.__version__
    print(json.dumps(out))


def run_torch(a, threads):
    cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker", "--model", a.model, "--batch", str(a.batch),
           "--seq", str(a.seq), "--targets", a.targets, "--rank", str(a.rank), "--threads", str(threads),
           "--steps", str(a.steps), "--warmup", str(a.warmup), "--warmup-seconds", str(a.warmup_seconds),
           "--seed", str(a.seed)]
    if a.gradient_checkpointing:
        cmd.append("--gradient-checkpointing")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise SystemExit("PyTorch run failed")
    return json.loads(p.stdout.strip().splitlines()[-1])


def run_fedlora(a, threads):
    cmd = [os.path.join(ROOT, "fedlora"), "bench", "train", "--model", a.model, "--batch", str(a.batch), "--seq", str(a.seq),
           "--targets", a.targets, "--rank", str(a.rank), "--threads", str(threads), "--steps", str(a.steps),
           "--warmup", str(a.warmup), "--warmup-seconds", str(a.warmup_seconds), "--seed", str(a.seed)]
    if a.gradient_checkpointing:
        cmd.append("--gradient-checkpointing")
    env = dict(os.environ)
    if a.java_opts:
        env["JAVA_OPTS"] = a.java_opts
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.stderr.write(p.stderr[-4000:])
        raise SystemExit("fedlora run failed")
    return json.loads(p.stdout.strip().splitlines()[-1])


def rng(values, fmt):
    lo, hi = min(values), max(values)
    return fmt.format(lo) if lo == hi or fmt.format(lo) == fmt.format(hi) else (fmt.format(lo) + "–" + fmt.format(hi))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="HF model directory (GPT-2 layout)")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="init-model",
                    help="without --model: write a random-weight model of this shape to a temp dir")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--targets", default="c_attn")
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=-1, help="untimed steps per phase, at least (default: by FLOPs)")
    ap.add_argument("--warmup-seconds", type=float, default=10.0,
                    help="untimed seconds per phase, at least, on both sides (fedlora's JIT settles in seconds)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--gradient-checkpointing", action="store_true")
    ap.add_argument("--java-opts", default="", help="JAVA_OPTS for the fedlora runs")
    ap.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_worker:
        a.threads = int(a.threads)
        torch_worker(a)
        return
    tmp = None
    if not a.model:
        tmp = tempfile.TemporaryDirectory(prefix="fedlora-bench-model-")
        a.model = tmp.name
        write_random_model(a.shape, a.model, a.seed)
    rows = []
    for threads in [int(t) for t in a.threads.split(",")]:
        f_runs, t_runs = [], []
        for _ in range(a.repeats):
            f_runs.append(run_fedlora(a, threads))
            t_runs.append(run_torch(a, threads))
        rows.append((threads, f_runs, t_runs))
        for f, t in zip(f_runs, t_runs):
            print(json.dumps({"threads": threads, "fedlora": {k: f[k] for k in ("train", "forward", "peak_rss_bytes", "warmup_run")},
                              "pytorch": t}), file=sys.stderr)
    print(f"workload: {a.model} batch {a.batch} x seq {a.seq}, LoRA r{a.rank} on {a.targets}, {a.steps} timed steps, "
          f"{a.repeats} interleaved repeats{', gradient checkpointing' if a.gradient_checkpointing else ''}")
    print("| threads | fedlora tokens/s | PyTorch tokens/s | ratio | fedlora fwd tokens/s | PyTorch fwd tokens/s "
          "| peak RSS fedlora / PyTorch (GB) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for threads, f_runs, t_runs in rows:
        ft = [r["train"]["tokens_per_second"] for r in f_runs]
        tt = [r["train"]["tokens_per_second"] for r in t_runs]
        ratios = [f / t for f, t in zip(ft, tt)]
        print(f"| {threads} | {rng(ft, '{:,.0f}')} | {rng(tt, '{:,.0f}')} | {rng(ratios, '{:.2f}')} "
              f"| {rng([r['forward']['tokens_per_second'] for r in f_runs], '{:,.0f}')} "
              f"| {rng([r['forward']['tokens_per_second'] for r in t_runs], '{:,.0f}')} "
              f"| {rng([r['peak_rss_bytes'] / 1e9 for r in f_runs], '{:.2f}')} / "
              f"{rng([r['peak_rss_bytes'] / 1e9 for r in t_runs], '{:.2f}')} |")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
