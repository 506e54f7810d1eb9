"""The embedded run's work per minute: the recipe's speed settings against the fp32 settings they replaced.

    .venv/bin/python benchmarks/recipe_speed.py          # ~15 min on 2 cores; writes benchmarks/results/recipe_speed.json

Why: the embedded recipe computes in bf16 (`bf16: true`), samples its rollouts from a bf16 copy of the
policy (`generation_dtype: bfloat16`, with grouped eager attention), runs eager attention and generates
with a KV cache that does not copy itself at every token and prefills each prompt's samples once
(`kv_cache: shared`), trains without gradient checkpointing, computes each GRPO group's prompt once
in the loss (`shared_prompt_loss: true`) and generates a step's dynamic-sampling rounds in one call
(`dynamic_sampling_rounds_per_call: 3`); until 2026-12-02 it ran all of it in fp32 with SDPA and
transformers' own cache, with TRL's default gradient checkpointing and TRL's own loss forward, one
round a call.
Whether that makes the whole run faster, and by how much, is a question about the real pipeline (TRL's
trainers, the curriculum, dynamic sampling, validation, scoring), not about one kernel.
So each arm runs `cli.py train` itself, one after the other, on the same data with the same seed:

    fp32     --set bf16=false --set generation_dtype=auto --set attn_implementation=sdpa --set kv_cache=dynamic
             --set gradient_checkpointing=true --set shared_prompt_loss=false --set dynamic_sampling_rounds_per_call=1
    recipe   train/recipes/tiny-cpu.yaml as it is

each on part of the recipe's work (`--work`: the recipe's own 450 cold-start steps, since a shorter cold
start solves too few prompts for the curriculum to keep; a 512-prompt curriculum; 30 GRPO steps validated
every 10; the final scoring on the whole test split). The two arms' models differ
(bf16 against fp32 numerics), so their GRPO steps need different numbers of dynamic-sampling rounds;
equal work is restored per unit: each phase's cost per unit (s per SFT step, per curriculum prompt,
per generation call, per GRPO step outside generation, per validation pass, the scoring) is measured
in each arm and priced at the recipe's whole work (its cold-start steps, curriculum pool, GRPO steps
with the generation rounds each step of the main job's seeds needed, as calls of the arm's rounds a
call, one validation pass per `save_steps` and one before training, the scoring). The ratio of the two
prices is the work per minute the recipe's settings gain. The data preparation (built by the first
arm, reused by the second) is left out.

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
                 "gradient_checkpointing=true", "shared_prompt_loss=false", "dynamic_sampling_rounds_per_call=1"],
        "recipe": []}
WORK = ["grpo_filter_pool=512", "max_steps=30", "save_steps=10"]


def recipe_work(rounds: dict) -> dict:
    """The units of work the embedded recipe does, read from the recipe itself; `rounds` is
    main_job_rounds()'s."""
    sys.path.insert(0, str(ROOT))
    from train.config import resolve

    cfg = resolve()
    s, g = cfg.script, cfg.grpo
    return {"cold_start_steps": s.cold_start_steps, "curriculum_prompts": s.grpo_filter_pool,
            "grpo_steps": g.max_steps, **rounds, "max_rounds": s.dynamic_sampling_max_rounds,
            "val_passes": g.max_steps // g.save_steps + 1}


def main_job_rounds(mean: float | None = None) -> dict | None:
    """The dynamic-sampling rounds the main job's GRPO steps needed (benchmarks/main_job.py), over its
    seeds: {"rounds_per_step": mean, "rounds_needed_counts": {rounds: steps}} (the counts when every
    seed's record has them); `mean` given: that mean alone."""
    if mean is not None:
        return {"rounds_per_step": mean}
    if not MAIN_JOB.is_file():
        return None
    runs = [r for r in json.loads(MAIN_JOB.read_text())["runs"] if r.get("rounds_per_step")]
    if not runs:
        return None
    out = {"rounds_per_step": round(statistics.mean(r["rounds_per_step"] for r in runs), 3)}
    if all("rounds_needed_counts" in r for r in runs):
        counts: dict[str, int] = {}
        for r in runs:
            for n, c in r["rounds_needed_counts"].items():
                counts[n] = counts.get(n, 0) + c
        out["rounds_needed_counts"] = dict(sorted(counts.items(), key=lambda kv: int(kv[0])))
    return out


def calls_per_step(work: dict, rounds_per_call: int) -> float:
    """Generation calls a GRPO step of the recipe's work takes when each call generates `rounds_per_call`
    rounds: a step that needed n rounds takes ceil(n / k) calls.

    >>> calls_per_step({"rounds_per_step": 2.6, "max_rounds": 3}, 1), calls_per_step({"max_rounds": 3}, 3)
    (2.6, 1.0)
    >>> calls_per_step({"rounds_needed_counts": {"1": 1, "2": 1, "3": 2}, "max_rounds": 3}, 2)
    1.5
    """
    if rounds_per_call >= work["max_rounds"]:
        return 1.0
    if rounds_per_call == 1:
        return work["rounds_per_step"]
    if "rounds_needed_counts" not in work:
        raise SystemExit("pricing several rounds a call below the maximum needs the main job's rounds_needed_counts")
    counts = {int(n): c for n, c in work["rounds_needed_counts"].items()}
    return sum(c * -(-n // rounds_per_call) for n, c in counts.items()) / sum(counts.values())


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
    calls = sum(r.get("generation_calls", r["sampling_rounds"]) for r in steps)
    resolved = json.loads((out / "resolved_args.json").read_text())["script"]
    grpo = ph["GRPO"]
    unit = {"s_per_sft_step": ph["cold start"]["seconds"] / ph["cold start"]["steps"],
            "s_per_curriculum_prompt": ph["curriculum"]["seconds"] / ph["curriculum"]["prompts"],
            "s_per_generation_call": gen / calls,
            "s_per_step_outside_generation": grpo["seconds_per_step"] - gen / len(steps),
            "s_per_val_pass": grpo["validation_seconds"] / grpo["validation_passes"],
            "s_scoring": ph["final scoring"]["seconds"] + ph.get("checkpoint choice", {}).get("seconds", 0.0)}
    return {"overrides": overrides, "wall_seconds": round(wall, 1), "phases": ph,
            "rounds_per_step": round(rounds / len(steps), 2), "calls_per_step": round(calls / len(steps), 2),
            "rounds_per_call": resolved["dynamic_sampling_rounds_per_call"],
            "unit": {k: round(v, 4) for k, v in unit.items()}}


def price(arm: dict, work: dict) -> dict:
    """Seconds per phase of the recipe's whole work at one arm's unit costs."""
    unit, calls = arm["unit"], calls_per_step(work, arm["rounds_per_call"])
    return {"cold start": work["cold_start_steps"] * unit["s_per_sft_step"],
            "curriculum": work["curriculum_prompts"] * unit["s_per_curriculum_prompt"],
            "GRPO generation": work["grpo_steps"] * calls * unit["s_per_generation_call"],
            "GRPO loss, backward, optimizer": work["grpo_steps"] * unit["s_per_step_outside_generation"],
            "validation": work["val_passes"] * unit["s_per_val_pass"],
            "final scoring": unit["s_scoring"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/mini-r1-recipe-speed"))
    ap.add_argument("--work", nargs="+", default=WORK, help="the overrides that size each arm's run")
    ap.add_argument("--rounds", type=float, default=None,
                    help="mean generation rounds a GRPO step needed, to price at (default: the main job's)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    rounds = main_job_rounds(args.rounds)
    if rounds is None:
        raise SystemExit("no --rounds given and benchmarks/results/main_job.json has no rounds_per_step")
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = args.workdir / "data"  # the first arm builds it with the recipe's sizes; the second reuses it
    work = recipe_work(rounds)
    arms = {name: run_arm(name, ov, args.work, data, args.workdir, args.threads) for name, ov in ARMS.items()}
    priced = {name: price(a, work) for name, a in arms.items()}
    base, new = priced["fp32"], priced["recipe"]
    print(f"\nThe recipe's whole work ({work['cold_start_steps']} SFT steps, {work['curriculum_prompts']} curriculum "
          f"prompts, {work['grpo_steps']} GRPO steps needing {work['rounds_per_step']:.2f} rounds, "
          f"{work['val_passes']} validation passes, scoring) at each arm's measured unit costs, "
          f"{args.threads} thread(s):")
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
