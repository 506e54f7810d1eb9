"""Each embedded phase's useful FLOP/s against this machine's roofline for the model's own shapes.

    .venv/bin/python benchmarks/roofline.py              # ~3 min on 2 cores; writes benchmarks/results/roofline.json
    .venv/bin/python benchmarks/roofline.py --threads 1

Why: on 2 cores minutes are the budget, so speed is learning; before making a phase faster, know how
far it is from what the machine can do with these shapes. One run measures:

1. The roofline: fp32 `torch.matmul` GFLOP/s of the tiny model's weight shapes (q, k, v, o, gate, up,
   down, lm_head) at the row counts each phase feeds them (M = sequences x tokens for a training
   step, M = sequences in flight for one decode step), time-weighted over the shapes as a forward
   pass spends it. A phase cannot beat the roofline at its M.
2. Each phase's work as the embedded recipe does it (train/recipes/tiny-cpu.yaml: batch sizes,
   prompt and completion lengths), on the tiny model with random weights and EOS disabled so every
   sequence generates its full length (generation with left-padded prompts, as real batches are):
   - SFT step: forward + backward + AdamW, 32 sequences of ~80 tokens (TRL's SFTTrainer runs this);
   - GRPO loss + backward: 128 completions of 56 tokens after a 35-token prompt (one step's loss);
   - generation with HF `generate` (sampling) for the curriculum (32 prompts x 8 samples), the GRPO
     step (8 prompts x 16 samples, and its 3 dynamic-sampling rounds in one call as the recipe generates
     them, `dynamic_sampling_rounds_per_call: 3`) and greedy validation / final scoring (125 tasks a batch).
   Useful FLOP: 6·N·tokens for a training step, 2·N·tokens for generation (N = non-embedding
   parameters + lm_head; attention's own FLOP is small at these lengths and left out).
   The rollouts (curriculum, GRPO) run a second time from the recipe's bf16 generation copy
   (`generation_dtype: bfloat16`, train/generation_copy.py: bf16 weights, eager attention), a third time
   from that copy with the copy-free KV cache (`kv_cache: buffer`, train/decode_cache.py), a fourth time
   with that cache and each prompt's copies prefilled once (`kv_cache: shared`), a fifth time as the
   recipe generates them, from a copy with grouped eager attention (train/grouped_attention.py) as well,
   and the GRPO round once more from a bf16 copy with SDPA attention (why eager); each against bf16
   `matmul`. Validation runs a second time as the recipe validates: the fp32
   policy with eager attention and the copy-free cache.
   The two training steps run three times: in fp32 with SDPA attention (the recipe until 2026-12-02), and
   under bf16 CPU autocast as the recipe's `bf16: true` computes them (fp32 master weights), once with the
   recipe's eager attention and once with SDPA; a bf16 row's roofline is bf16 `matmul` at the same M, and
   it prints its speed-up over the fp32 row measured in the same run. GRPO's loss runs twice more as TRL
   computes it (its fused LM head: log-probs and entropies of the completion tokens only), bf16 and eager:
   over every row's prompt, and with each of the 8 prompts computed once (`shared_prompt_loss: true`,
   train/shared_prompt_loss.py), as the recipe does.
3. Why generation sits far under its roofline: one decode step at 128 sequences taken apart into the
   weight matmuls alone, the model's forward with its KV cache, and a whole `generate` step.
Each row prints tokens/s, useful GFLOP/s, the roofline at its M, and the ratio of the two.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from main_job import machine  # the machine's description, one owner (benchmarks/ is the script's dir)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "roofline.json"

PROMPT, COMPLETION, SFT_TOKENS = 35, 56, 80  # the reference prompt's tokens; the recipe's max completion; a trace


def gemm_gflops(torch, m: int, k: int, n: int, seconds: float = 0.3, dtype=None) -> float:
    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    torch.matmul(a, b)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        torch.matmul(a, b)
        reps += 1
    return 2 * m * k * n * reps / (time.perf_counter() - t0) / 1e9


def roofline(torch, cfg, vocab: int, m: int, dtype=None) -> float:
    """GFLOP/s of one forward's weight matmuls at M rows (in `dtype`, fp32 by default): total FLOP over
    total time across the shapes."""
    h, i = cfg.hidden_size, cfg.intermediate_size
    hd = getattr(cfg, "head_dim", None) or h // cfg.num_attention_heads
    q, kv = cfg.num_attention_heads * hd, cfg.num_key_value_heads * hd
    shapes = [(h, q), (h, kv), (h, kv), (q, h), (h, i), (h, i), (i, h), (h, vocab)]
    flop = t = 0.0
    for k, n in shapes:
        g = gemm_gflops(torch, m, k, n, dtype=dtype)
        f = 2 * m * k * n
        flop, t = flop + f, t + f / (g * 1e9)
    return flop / t / 1e9


def matmul_params(model) -> int:
    """Parameters a token's forward multiplies by: every weight but the embedding table (lm_head counted)."""
    emb = model.get_input_embeddings().weight
    return sum(p.numel() for n, p in model.named_parameters() if p.data_ptr() != emb.data_ptr() and p.dim() == 2) + (
        model.get_output_embeddings().weight.numel() if model.config.tie_word_embeddings else 0)


def time_it(fn, reps: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def decode_breakdown(torch, model, vocab: int, b: int, time_it) -> dict:
    """Seconds of one decode step at `b` sequences with ~PROMPT + COMPLETION/2 tokens cached: the
    weight matmuls alone, the model's forward with its KV cache, and a whole `generate` step."""
    import torch.nn.functional as F

    linears = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    xs = {w.shape[1]: torch.randn(b, w.shape[1]) for w in linears}

    def matmuls():
        for w in linears:
            F.linear(xs[w.shape[1]], w)

    ids = torch.randint(0, vocab, (b, PROMPT + COMPLETION // 2))
    tok = torch.randint(0, vocab, (b, 1))
    with torch.inference_mode():
        cache = model(input_ids=ids, use_cache=True).past_key_values

        def forward():
            model(input_ids=tok, past_key_values=cache, use_cache=True)
            cache.crop(-1)  # drop the token just added: the same cache length every call

        def generate(steps):
            return lambda: model.generate(input_ids=ids[:, :PROMPT], attention_mask=torch.ones_like(ids[:, :PROMPT]),
                                          max_new_tokens=steps, min_new_tokens=steps, do_sample=True,
                                          temperature=0.5, top_k=0, top_p=1.0, pad_token_id=0)
        out = {"weight matmuls": time_it(matmuls, 20), "forward with KV cache": time_it(forward, 20)}
        # a generate step: the difference of two lengths, so prefill and set-up cancel
        out["generate step"] = (time_it(generate(COMPLETION), 3) - time_it(generate(COMPLETION // 4), 3)) / (
            COMPLETION - COMPLETION // 4)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = the run's auto choice)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    import torch

    from common.hardware import cpu_threads
    from train.tiny_model import build_tiny_model

    threads = cpu_threads(args.threads)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    from transformers import AutoModelForCausalLM

    with tempfile.TemporaryDirectory() as d:
        build_tiny_model(Path(d))
        model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32)
        # the recipe's training attention (attn_implementation: eager), the same weights
        eager = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager")
    cfg, vocab = model.config, model.config.vocab_size
    n = matmul_params(model)
    print(f"tiny model: {n / 1e6:.2f}M matmul parameters, vocab {vocab}; {threads} torch thread(s)", file=sys.stderr)

    rows = []

    def add(phase, what, m, tokens, seconds, flop_per_token, precision="fp32", baseline=None):
        roof = roofline(torch, cfg, vocab, m, torch.bfloat16 if precision.startswith("bf16") else None)
        useful = flop_per_token * tokens / seconds / 1e9
        row = {"phase": phase, "precision": precision, "shape": what, "m": m,
               "tokens_per_s": round(tokens / seconds, 1), "useful_gflops": round(useful, 2),
               "roofline_gflops": round(roof, 2), "ratio": round(useful / roof, 3), "seconds": round(seconds, 4)}
        if baseline:
            row["speedup_vs_fp32"] = round(baseline / seconds, 2)
        rows.append(row)
        print(f"{phase:<28}{precision:<45}{what:<30}{tokens / seconds:>9,.0f} tok/s{useful:>8.1f} GFLOP/s"
              f"{roof:>8.1f}{useful / roof:>7.0%}" + (f"  x{baseline / seconds:.2f} vs fp32" if baseline else ""),
              file=sys.stderr)

    # training steps: forward + backward + AdamW on fp32 weights; "bf16" computes under CPU autocast, as
    # the recipe's `bf16: true` does through accelerate (fp32 master weights, bf16 matrix products)
    import contextlib

    model.train()

    eager.train()
    opts = {id(m): torch.optim.AdamW(m.parameters(), lr=1e-6) for m in (model, eager)}

    def train_step(b, t, bf16=False, m=model):
        ids = torch.randint(0, vocab, (b, t))

        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
                loss = m(input_ids=ids, labels=ids).loss
            loss.backward()
            opts[id(m)].step()
            opts[id(m)].zero_grad(set_to_none=True)
        return step

    # fp32 with SDPA (the recipe until 2026-12-02), then bf16 with the recipe's eager attention and with SDPA
    for phase, b, t in (("cold start (SFT step)", 32, SFT_TOKENS), ("GRPO loss + backward", 128, PROMPT + COMPLETION)):
        s32 = time_it(train_step(b, t), args.reps)
        add(phase, f"{b} x {t} tokens", b * t, b * t, s32, 6 * n, "fp32, SDPA")
        for name, m in (("bf16, eager", eager), ("bf16, SDPA", model)):
            add(phase, f"{b} x {t} tokens", b * t, b * t, time_it(train_step(b, t, True, m), args.reps), 6 * n,
                name, baseline=s32)

    # GRPO's loss as TRL computes it (its fused LM head, log-probs and entropies of the completion tokens), under
    # the recipe's bf16 autocast and eager attention: every row's prompt, then each of the 8 prompts once
    # (`shared_prompt_loss: true`, train/shared_prompt_loss.py)
    from trl.trainer.utils import add_fused_lm_head

    from train.shared_prompt_loss import shared_prompt_logps

    add_fused_lm_head(eager, outputs=("log_probs", "entropy"))  # `eager(...)` without fused_lm_head is unchanged
    groups, samples = 8, 16
    grpo_ids = torch.cat([torch.randint(0, vocab, (groups, PROMPT)).repeat_interleave(samples, 0),
                          torch.randint(0, vocab, (groups * samples, COMPLETION))], 1)
    grpo_mask = torch.ones_like(grpo_ids)

    def grpo_loss_step(shared):
        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                if shared:
                    logps, entropies = shared_prompt_logps(eager, grpo_ids, grpo_mask, COMPLETION, True)
                else:
                    labels = grpo_ids.clone()
                    labels[:, :-COMPLETION] = -100
                    out = eager(input_ids=grpo_ids, attention_mask=grpo_mask, labels=labels, fused_lm_head=True)
                    logps, entropies = out.log_probs[:, -COMPLETION:], out.entropy[:, -COMPLETION:]
            (-logps.mean()).backward()
            opts[id(eager)].step()
            opts[id(eager)].zero_grad(set_to_none=True)
        return step

    b, t = groups * samples, PROMPT + COMPLETION
    s32 = next(r["seconds"] for r in rows if r["phase"] == "GRPO loss + backward" and r["precision"] == "fp32, SDPA")
    for name, shared in (("bf16, eager, TRL's fused head", False), ("bf16, eager, TRL's fused head, shared prompts",
                                                                     True)):
        add("GRPO loss + backward", f"{b} x {t} tokens", b * t, b * t, time_it(grpo_loss_step(shared), args.reps),
            6 * n, name, baseline=s32)

    # generation: HF generate, every sequence its full length; the rollouts (curriculum, GRPO) also from
    # the recipe's bf16 generation copy (generation_dtype: bfloat16), with eager attention and, to show why
    # not, with SDPA
    from train.decode_cache import growing_cache, shared_prompt_cache
    from train.generation_copy import generation_model

    model.eval()
    eager.eval()
    copies = {"bf16 copy": generation_model(model, attention="eager"),
              "bf16 copy, SDPA": generation_model(model, attention="sdpa")}
    grouped = generation_model(model)  # the recipe's copy: grouped eager attention
    # with the copy-free cache: the rollouts from the bf16 copy (the recipe: their prompts' copies prefilled once)
    # and validation on the (eager) policy (the recipe: one row a prompt, nothing to share)
    now = {"bf16 copy, buffer cache": (copies["bf16 copy"], "buffer"),
           "bf16 copy, shared prompts": (copies["bf16 copy"], "shared"),
           "bf16 copy, shared prompts, grouped attention": (grouped, "shared"),
           "fp32, eager, buffer cache": (eager, "buffer")}
    copies = {name: (m, None) for name, m in copies.items()} | now

    def gen(prompts, samples, sample=True, m=model, cache=None):
        ids = torch.randint(0, vocab, (prompts, PROMPT))
        # left padding, as every real batch has (3- and 4-number prompts differ in length): 0-6 pad tokens a row;
        # without a padding mask SDPA takes another kernel and the bf16 rows measure something no run does
        mask = (torch.arange(PROMPT)[None] >= (torch.arange(prompts) % 7)[:, None]).long()
        # each prompt's samples as consecutive rows, as `generate`'s num_return_sequences makes them
        ids, mask = ids.repeat_interleave(samples, 0), mask.repeat_interleave(samples, 0)
        kw = dict(max_new_tokens=COMPLETION, min_new_tokens=COMPLETION, do_sample=sample, pad_token_id=0)
        if sample:
            kw |= dict(temperature=0.5, top_k=0, top_p=1.0)

        def run():
            with torch.inference_mode():  # a fresh cache per call, as the recipe
                kv = {"buffer": lambda: {"past_key_values": growing_cache()}, None: dict,
                      "shared": lambda: {"past_key_values": shared_prompt_cache(m, ids, mask)}}[cache]()
                m.generate(input_ids=ids, attention_mask=mask, **kw, **kv)
        return run

    # the copies run only for the rollouts: validation and final scoring stay on the fp32 model
    for phase, p, k, sample, names in (("curriculum generation", 32, 8, True,
                                        ("bf16 copy", "bf16 copy, buffer cache", "bf16 copy, shared prompts",
                                         "bf16 copy, shared prompts, grouped attention")),
                                       ("GRPO generation (one round)", 8, 16, True,
                                        ("bf16 copy", "bf16 copy, SDPA", "bf16 copy, buffer cache",
                                         "bf16 copy, shared prompts", "bf16 copy, shared prompts, grouped attention")),
                                       # the recipe's step: its 3 dynamic-sampling rounds in one call
                                       ("GRPO generation (3 rounds, one call)", 24, 16, True,
                                        ("bf16 copy, shared prompts, grouped attention",)),
                                       ("validation / final scoring", 125, 1, False, ("fp32, eager, buffer cache",))):
        seqs = p * k
        what, tokens = f"{seqs} seqs x ({PROMPT} + {COMPLETION})", seqs * (PROMPT + COMPLETION)
        s = time_it(gen(p, k, sample), max(1, args.reps - 1))
        add(phase, what, seqs, tokens, s, 2 * n)
        for name in names:
            m, cache = copies[name]
            add(phase, what, seqs, tokens, time_it(gen(p, k, sample, m, cache), max(1, args.reps - 1)), 2 * n,
                name, baseline=s)

    # why generation sits far under its roofline: one decode step at M = 128 sequences, taken apart
    decode = decode_breakdown(torch, model, vocab, 128, time_it)
    print("one decode step, 128 sequences: " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in decode.items()),
          file=sys.stderr)

    result = {"command": "python benchmarks/roofline.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "date": date.today().isoformat(), "threads": threads, "cpus": len(os.sched_getaffinity(0)),
              "cpu_model": machine()["cpu_model"],
              "matmul_params": n, "rows": rows,
              "decode_step_128": {k: round(v * 1e3, 2) for k, v in decode.items()}}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
