"""The embedded run's work per minute: the recipe's speed settings against the fp32 settings they replaced.

    .venv/bin/python benchmarks/recipe_speed.py          # ~15 min on 2 cores; writes benchmarks/results/recipe_speed.json

Why: the embedded recipe computes in bf16 (`bf16: true`), samples its rollouts from a bf16 copy of the
policy (`generation_dtype: bfloat16`, with grouped eager attention), runs eager attention and generates
with a KV cache that does not copy itself at every token and prefills each prompt's samples once
(`kv_cache: shared`), trains without gradient checkpointing and computes each GRPO group's prompt once
in the loss (`shared_prompt_loss: true`); until 2026-12-02 it ran all of it in fp32 with SDPA and
transformers' own cache, with TRL's default gradient checkpointing and TRL's own loss forward.
Whether that makes the whole run faster, and by how much, is a question about the real pipeline (TRL's
trainers, the curriculum, dynamic sampling, validation, scoring), not about one kernel.
So each arm runs `cli.py train` itself, one after the other, on the same data with the same seed:

    fp32     --set bf16=false --set generation_dtype=auto --set attn_implementation=sdpa --set kv_cache=dynamic
             --set gradient_checkpointing=true --set shared_prompt_loss=false
    recipe   train/recipes/tiny-cpu.yaml as it is

each on part of the recipe's work (`--work`: the recipe's own 450 cold-start steps, since a shorter cold
start solves too few prompts for the curriculum to keep; a 512-prompt curriculum; 30 GRPO steps validated
every 10; the final scoring on the whole test split). The two arms' models differ
(bf16 against fp32 numerics), so their GRPO steps need different numbers of dynamic-sampling rounds;
equal work is restored per unit: each phase's cost per unit (s per SFT step, per curriculum prompt,
per generation round, per GRPO step outside generation, per validation pass, the scoring) is measured
in each arm and priced at the recipe's whole work (its cold-start steps, curriculum pool, GRPO steps
with the mean generation rounds a step of the main job's seeds, one validation pass per `save_steps`
and one before training, the scoring). The ratio of the two prices is the work per minute the recipe's
settings gain. The data preparation (built by the first arm, reused by the second) is left out.

Run it with nothing else on the machine; the arms run back to back so machine drift hits both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from main_job import machine  # the machine's description, one owner (benchmarks/ is the script's dir)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "recipe_speed.json"
MAIN_JOB = ROOT / "benchmarks" / "results" / "main_job.json"
ARMS = {"fp32": ["bf16=false", "generation_dtype=auto", "attn_implementation=sdpa", "kv_cache=dynamic",
                 "gradient_checkpointing=true", "shared_prompt_loss=false"], "recipe": []}
WORK = ["grpo_filter_pool=512", "max_steps=30", "save_steps=10"]


def recipe_work(rounds: float) -> dict:
    """The units of work the embedded recipe does, read from the recipe itself."""
    sys.path.insert(0, str(ROOT))
    from train.config import resolve

    cfg = resolve()
    s, g = cfg.script, cfg.grpo
    return {"cold_start_steps": s.cold_start_steps, "curriculum_prompts": s.grpo_filter_pool,
            "grpo_steps": g.max_steps, "rounds_per_step": rounds, "val_passes": g.max_steps // g.save_steps + 1}


def main_job_rounds() -> float | None:
    """The mean dynamic-sampling rounds a GRPO step over the main job's seeds (benchmarks/main_job.py)."""
    if not MAIN_JOB.is_file():
        return None
    xs = [r["rounds_per_step"] for r in json.loads(MAIN_JOB.read_text())["runs"] if r.get("rounds_per_step")]
    return statistics.mean(xs) if xs else None


def run_arm(name: str, overrides: list[str], work: list[str], data: Path, workdir: Path, threads: int) -> dict:
    out = workdir / name
    shutil.rmtree(out, ignore_errors=True)
    sets = [f"output_dir={out}", f"dataset={data}", f"torch_num_threads={threads}", *work, *overrides]
    cmd = [sys.executable, "cli.py", "train"] + [a for kv in sets for a in ("--set", kv)]
    log = workdir / f"{name}.log"
    print(f"[recipe_speed] {name}: {' '.join(cmd[1:])} (log {log})", flush=True)
    t = time.perf_counter()
    with open(log, "w") as f:
        p = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    if p.returncode:
        raise SystemExit(f"arm {name} failed (exit {p.returncode}); log: {log}")
    wall = time.perf_counter() - t
    summary = json.loads((out / "summary.json").read_text())
    ph = summary["phases"]
    steps = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in steps if "generation_seconds" in r]
    gen, rounds = sum(r["generation_seconds"] for r in steps), sum(r["sampling_rounds"] for r in steps)
    grpo = ph["GRPO"]
    unit = {"s_per_sft_step": ph["cold start"]["seconds"] / ph["cold start"]["steps"],
            "s_per_curriculum_prompt": ph["curriculum"]["seconds"] / ph["curriculum"]["prompts"],
            "s_per_generation_round": gen / rounds,
            "s_per_step_outside_generation": grpo["seconds_per_step"] - gen / len(steps),
            "s_per_val_pass": grpo["validation_seconds"] / grpo["validation_passes"],
            "s_scoring": ph["final scoring"]["seconds"] + ph.get("checkpoint choice", {}).get("seconds", 0.0)}
    return {"overrides": overrides, "wall_seconds": round(wall, 1), "phases": ph,
            "rounds_per_step": round(rounds / len(steps), 2),
            "unit": {k: round(v, 4) for k, v in unit.items()}}


def price(unit: dict, work: dict) -> dict:
    """Seconds per phase of the recipe's whole work at one arm's unit costs."""
    return {"cold start": work["cold_start_steps"] * unit["s_per_sft_step"],
            "curriculum": work["curriculum_prompts"] * unit["s_per_curriculum_prompt"],
            "GRPO generation": work["grpo_steps"] * work["rounds_per_step"] * unit["s_per_generation_round"],
            "GRPO loss, backward, optimizer": work["grpo_steps"] * unit["s_per_step_outside_generation"],
            "validation": work["val_passes"] * unit["s_per_val_pass"],
            "final scoring": unit["s_scoring"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/mini-r1-recipe-speed"))
    ap.add_argument("--work", nargs="+", default=WORK, help="the overrides that size each arm's run")
    ap.add_argument("--rounds", type=float, default=None,
                    help="generation rounds a GRPO step to price at (default: the main job's mean)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    rounds = args.rounds or main_job_rounds()
    if rounds is None:
        raise SystemExit("no --rounds given and benchmarks/results/main_job.json has no rounds_per_step")
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = args.workdir / "data"  # the first arm builds it with the recipe's sizes; the second reuses it
    work = recipe_work(rounds)
    arms = {name: run_arm(name, ov, args.work, data, args.workdir, args.threads) for name, ov in ARMS.items()}
    priced = {name: price(a["unit"], work) for name, a in arms.items()}
    base, new = priced["fp32"], priced["recipe"]
    print(f"\nThe recipe's whole work ({work['cold_start_steps']} SFT steps, {work['curriculum_prompts']} curriculum "
          f"prompts, {work['grpo_steps']} GRPO steps x {work['rounds_per_step']:.2f} rounds, {work['val_passes']} "
          f"validation passes, scoring) at each arm's measured unit costs, {args.threads} thread(s):")
    print(f"{'phase':<34}{'fp32 s':>10}{'recipe s':>10}{'speed-up':>10}")
    for k in base:
        print(f"{k:<34}{base[k]:>10.1f}{new[k]:>10.1f}{base[k] / new[k]:>9.2f}x")
    tb, tn = sum(base.values()), sum(new.values())
    print(f"{'whole run':<34}{tb:>10.1f}{tn:>10.1f}{tb / tn:>9.2f}x")
    result = {"date": date.today().isoformat(), "cpus": len(os.sched_getaffinity(0)),
              "cpu_model": machine()["cpu_model"],
              "threads": args.threads,
              "work_per_arm": args.work, "recipe_work": work, "arms": arms,
              "priced_seconds": {n: {k: round(v, 1) for k, v in p.items()} for n, p in priced.items()},
              "whole_speedup": round(tb / tn, 2)}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"[recipe_speed] wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
