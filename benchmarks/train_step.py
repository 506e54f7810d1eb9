"""GRPO step speed of `cli.py train` against a plain TRL GRPO script: same tiny model, data and
settings, in one run. Prints steps/s, tokens/s, their ratio (target: >= 0.95, i.e. our layer
costs nothing) and each arm's peak memory.

    .venv/bin/python benchmarks/train_step.py            # ~4 min on 2 busy cores
    .venv/bin/python benchmarks/train_step.py --steps 8 --rounds 2

Each arm runs in its own process (so peak RSS is its own, and import/compile costs are not
timed); arms alternate over rounds because this machine's load is shared and noisy. A step's
time is measured by the same TrainerCallback in both arms; the first step (warm-up) is dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SETTINGS = dict(  # the embedded recipe's GRPO step shape, shrunk in steps only
    num_generations=8, per_device_train_batch_size=64, max_completion_length=32, learning_rate=5e-5, beta=0.0,
    loss_type="dapo", temperature=1.0, use_cpu=True, logging_steps=1, save_strategy="no", report_to="none",
    seed=42, disable_tqdm=True,
    # float32 like the embedded recipe: TRL's GRPOConfig defaults to bf16=True, which on CPU autocasts the
    # plain arm to bfloat16 and would compare two different precisions.
    bf16=False, lr_scheduler_type="constant",
)


def arm(which: str, steps: int, model_dir: str, data_dir: str, out: str) -> dict:
    import resource
    import time

    import torch
    from transformers import TrainerCallback

    torch.set_num_threads(1)  # both arms alike; see train.pipeline.set_threads
    from tasks.countdown.data import load_split
    from train.trl_rows import prompt_dataset
    from train.modeling import load_tokenizer

    tok = load_tokenizer(model_dir)
    ds = prompt_dataset(load_split(data_dir, "train")[:2000], tok, 256)
    times, tokens = [], []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            times.append(time.perf_counter() - self.t)

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "num_tokens" in logs:
                tokens.append(logs["num_tokens"])

    if which == "plain":
        # What a user would write with TRL alone (trl/scripts/grpo.py, minus the argument parsing).
        from trl import GRPOConfig, GRPOTrainer

        from tasks.countdown.rewards import equation_reward, format_reward

        args = GRPOConfig(output_dir=out, max_steps=steps, **SETTINGS)
        trainer = GRPOTrainer(model=model_dir, reward_funcs=[format_reward, equation_reward], args=args,
                              train_dataset=ds, processing_class=tok, callbacks=[Clock()])
    else:
        # cli.py train's GRPO phase: the recipe machinery and train.grpo.build_trainer with its callbacks.
        from train.config import resolve
        from train.grpo import build_trainer

        sets = [f"{k}={v}" for k, v in SETTINGS.items()] + [
            f"output_dir={out}", f"max_steps={steps}", f"model_name_or_path={model_dir}", "validate=false",
            # The embedded recipe's dynamic sampling generates up to 3 batches a step; off here, so both
            # arms do the same work per step and the ratio measures the machinery alone.
            "dynamic_sampling=false"]
        cfg = resolve(None, sets)
        Path(out).mkdir(parents=True, exist_ok=True)
        trainer, _ = build_trainer(cfg, model_dir, tok, ds, [], Path(out), log=lambda m: None)
        trainer.add_callback(Clock())
    trainer.train()
    step_times = times[1:]
    per_step_tokens = (tokens[-1] - tokens[0]) / (len(tokens) - 1) if len(tokens) > 1 else float("nan")
    return {"arm": which, "step_s": statistics.median(step_times), "tokens_per_step": per_step_tokens,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--arm", choices=["plain", "ours"])
    ap.add_argument("--model")
    ap.add_argument("--data")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.arm:
        print("RESULT " + json.dumps(arm(a.arm, a.steps, a.model, a.data, a.out)), flush=True)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-train-"))
    from tasks.countdown.data import write_dataset
    from train.tiny_model import build_tiny_model

    model = build_tiny_model(tmp / "model")
    write_dataset(tmp / "data", source="synthetic", train_size=2000, val_size=10, test_size=10)
    res = {"plain": [], "ours": []}
    for r in range(a.rounds):
        for which in ("plain", "ours") if r % 2 == 0 else ("ours", "plain"):
            cmd = [sys.executable, __file__, "--arm", which, "--steps", str(a.steps), "--model", str(model),
                   "--data", str(tmp / "data"), "--out", str(tmp / f"{which}-{r}")]
            p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
            line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
            if p.returncode or not line:
                sys.exit(f"{which} arm failed:\n{(p.stdout + p.stderr)[-2000:]}")
            res[which].append(json.loads(line[0][7:]))
            print(f"round {r + 1} {which:>5}: {res[which][-1]['step_s']:.2f} s/step", flush=True)
    agg = {}
    for which, rows in res.items():
        step_s = statistics.median(x["step_s"] for x in rows)
        tok = statistics.median(x["tokens_per_step"] for x in rows)
        agg[which] = {"steps_per_s": 1 / step_s, "tokens_per_s": tok / step_s,
                      "peak_rss_mb": max(x["peak_rss_mb"] for x in rows)}
    ratio = agg["ours"]["steps_per_s"] / agg["plain"]["steps_per_s"]
    print(f"\n| arm | steps/s | tokens/s | peak RSS MB |\n|---|---|---|---|")
    for which, label in (("plain", "plain TRL GRPOTrainer"), ("ours", "cli.py train (GRPO phase)")):
        g = agg[which]
        print(f"| {label} | {g['steps_per_s']:.3f} | {g['tokens_per_s']:.0f} | {g['peak_rss_mb']:.0f} |")
    tok_ratio = agg["ours"]["tokens_per_s"] / agg["plain"]["tokens_per_s"]
    print(f"\nratio cli/plain: steps/s {ratio:.3f}, tokens/s {tok_ratio:.3f} (target >= 0.95): "
          f"{'OK' if ratio >= 0.95 else 'BELOW TARGET'}")
    print(json.dumps({"settings": SETTINGS, "steps": a.steps, "rounds": a.rounds, "arms": agg, "ratio": ratio}))


if __name__ == "__main__":
    main()
