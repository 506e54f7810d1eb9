"""The main job as a new user runs it: a fresh clone, `make train` (install included), per seed.

    .venv/bin/python benchmarks/main_job.py                     # seeds 42, 1 and 2 (~13–16 min each on 2 cores)
    .venv/bin/python benchmarks/main_job.py --seeds 42          # one seed; the others' records are kept

Why: the README's headline table is what `make train` gives. Each seed runs in a fresh clone of
this repository's HEAD (`git clone`, then `make setup` and `make train ARGS="--set seed=S"`), and
its record keeps the machine, the torch threads, each phase's wall time and steps, the whole
command's time with the install, and the base-vs-trained table. Results go to
benchmarks/results/main_job.json (one record per seed, replaced when a seed is run again);
`benchmarks/summarize.py` renders them into benchmarks/README.md and the README's headline row,
and tests/test_benchmarks_readme.py fails when either disagrees with the file.

Run it with nothing else on the machine: another process on the cores changes the times (never
the table: the steps are fixed). The install here reuses uv's download cache, so it is the time of
a second clone on the same machine, not of a first download.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "main_job.json"
RUN = Path("runs") / "tiny-r1-countdown"  # make train's output_dir, relative to the clone


# The instruction sets that decide which bf16/fp32 kernels oneDNN picks, so which roundings a run gets:
# "Intel(R) Xeon(R) Processor" alone names hosts with and without AMX.
KERNEL_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


def machine() -> dict:
    from common.hardware import cpu_flags

    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    flags = cpu_flags() or set()
    return {"cpus": len(os.sched_getaffinity(0)), "cpu_model": cpu or platform.processor(),
            "cpu_flags": [f for f in KERNEL_FLAGS if f in flags], "loadavg_at_start": list(os.getloadavg())}


def timed(cmd: list[str], cwd: Path, log) -> float:
    t = time.perf_counter()
    with open(log, "a") as f:
        p = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT)
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {p.returncode}); log: {log}")
    return time.perf_counter() - t


def rounds_needed(run: Path) -> dict:
    """The dynamic-sampling rounds each GRPO step needed, as one round a generation call would take them
    (benchmarks/recipe_speed.py prices generation by them): their mean and how many steps needed each count."""
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    rounds = [int(r.get("sampling_rounds_needed", r["sampling_rounds"])) for r in rows if "sampling_rounds" in r]
    if not rounds:
        return {"rounds_per_step": None}
    return {"rounds_per_step": round(statistics.mean(rounds), 3),
            "rounds_needed_counts": {str(n): rounds.count(n) for n in sorted(set(rounds))}}


def run_seed(seed: int, workdir: Path) -> dict:
    clone = workdir / f"seed-{seed}"
    shutil.rmtree(clone, ignore_errors=True)
    clone.parent.mkdir(parents=True, exist_ok=True)
    log = workdir / f"seed-{seed}.log"
    log.unlink(missing_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    print(f"[main_job] seed {seed}: clone of {commit} in {clone}; log {log}", flush=True)
    at_start = machine()
    clone_s = timed(["git", "clone", "-q", str(ROOT), str(clone)], workdir, log)
    setup_s = timed(["make", "setup"], clone, log)
    train_s = timed(["make", "train", f"ARGS=--set seed={seed}"], clone, log)
    s = json.loads((clone / RUN / "summary.json").read_text())
    t = s["test"]
    rec = {"seed": seed, "commit": commit, "date": date.today().isoformat(), "machine": at_start,
           "torch_threads": s.get("torch_threads"), "setup_seconds": round(clone_s + setup_s, 1),
           "train_seconds": round(train_s, 1), "whole_seconds": round(clone_s + setup_s + train_s, 1),
           "phases": s.get("phases"), "shortened": s.get("shortened"), "global_step": s.get("global_step"),
           "final_from": s.get("final_from"), "final_val_accuracy": s.get("final_val_accuracy"),
           "baseline": {k: t["baseline"][k] for k in ("correct", "total", "accuracy")},
           "trained": {k: t["trained"][k] for k in ("correct", "total", "accuracy")},
           "gain_points": t["gain_points"], **rounds_needed(clone / RUN)}
    # the pair tested as a user would: `cli.py evaluate` on the run (lm-eval, baseline and trained on the
    # same test tasks), its paired line with McNemar's exact p; not counted in the command's time
    eval_s = timed([".venv/bin/python", "cli.py", "evaluate", "--model", str(RUN)], clone, log)
    ev = json.loads((clone / RUN / "eval" / "summary.json").read_text())
    paired = ev["difference"]["paired"]
    rec["evaluate"] = {"seconds": round(eval_s, 1), "baseline": ev["baseline"]["correct"],
                       "trained": ev["model"]["correct"], "total": ev["model"]["total"],
                       "only_baseline": paired["only_a"], "only_trained": paired["only_b"],
                       "p_value": paired["p_value"]}
    if "test_sampled" in s:
        ts = s["test_sampled"]
        rec["sampled"] = {"temperature": ts["temperature"], "baseline": ts["baseline"]["correct"],
                          "trained": ts["trained"]["correct"], "gain_points": ts["gain_points"]}
    print(f"[main_job] seed {seed}: {rec['baseline']['correct']} -> {rec['trained']['correct']}/"
          f"{rec['trained']['total']} ({rec['gain_points']:+.1f} points), whole command "
          f"{rec['whole_seconds'] / 60:.1f} min; evaluate: solved by one only {paired['only_a']} / "
          f"{paired['only_b']}, McNemar p {paired['p_value']:.2g}", flush=True)
    return rec


def aggregate(runs: list[dict]) -> dict:
    def ms(xs):
        return {"mean": round(statistics.mean(xs), 2), "sd": round(statistics.stdev(xs), 2) if len(xs) > 1 else 0.0}

    return {"seeds": [r["seed"] for r in runs], "gain_points": ms([r["gain_points"] for r in runs]),
            "baseline_correct": ms([r["baseline"]["correct"] for r in runs]),
            "trained_correct": ms([r["trained"]["correct"] for r in runs]),
            "whole_minutes": ms([r["whole_seconds"] / 60 for r in runs]),
            "all_full_runs": all(not r.get("shortened") for r in runs)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/mini-r1-main-job"))
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    for seed in args.seeds:
        rec = run_seed(seed, args.workdir)
        old = json.loads(args.out.read_text()) if args.out.is_file() else {"runs": []}
        runs = [r for r in old["runs"] if r["seed"] != rec["seed"]] + [rec]
        runs.sort(key=lambda r: [42, 1, 2].index(r["seed"]) if r["seed"] in (42, 1, 2) else r["seed"])
        result = {"command": "make train (fresh clone, install included)", "runs": runs, "summary": aggregate(runs)}
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"[main_job] wrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
