"""Scoring every checkpoint of a run: `cli.py evaluate --checkpoints all` against the same
checkpoints scored one by one with `cli.py evaluate --model RUN/checkpoint-N`, in one run, and
the sweep repeated (every point read back from its cache).

    .venv/bin/python benchmarks/checkpoint_sweep.py                          # 20 checkpoints of a built run
    .venv/bin/python benchmarks/checkpoint_sweep.py --run runs/tiny-r1-countdown --limit 50

Why: a sweep must cost no more than the one-by-one commands it replaces (the issue's target:
ratio <= 1). The sweep pays the imports once and keeps lm-eval loaded; each one-by-one command
pays a process start, the imports and its own baseline-less run. Without --run the benchmark
builds a run of N copies of the tiny model (random weights, every task costs the whole budget:
the worst case for that budget); with --run it sweeps that run's own checkpoints.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "checkpoint_sweep.json"


def build_run(work: Path, n: int) -> Path:
    from tasks.countdown.data import default_test_tasks, write_jsonl
    from train.tiny_model import build_tiny_model

    run = work / "run"
    model = build_tiny_model(work / "tiny")
    for step in range(1, n + 1):
        shutil.copytree(model, run / f"checkpoint-{step}")
    (run / "data").mkdir(parents=True)
    write_jsonl(default_test_tasks(), run / "data" / "test.jsonl")
    (run / "run.json").write_text(json.dumps({"test_split": str(run / "data" / "test.jsonl")}))
    return run


def cli(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    r = subprocess.run([sys.executable, str(ROOT / "cli.py"), "evaluate", *args], cwd=cwd, capture_output=True,
                       text=True)
    if r.returncode != 0:
        sys.exit(f"cli.py evaluate {' '.join(args)} failed:\n{r.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="a run directory to sweep (default: build one)")
    ap.add_argument("--checkpoints", type=int, default=20, help="checkpoints in the built run")
    ap.add_argument("--limit", type=int, default=20, help="test tasks per checkpoint")
    ap.add_argument("--max-gen-toks", type=int, default=16)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run = Path(args.run).resolve() if args.run else build_run(work, args.checkpoints)
        from common.run_dir import loadable_checkpoints

        steps = [s for s, _ in loadable_checkpoints(run)]
        common = ["--no-baseline", "--limit", str(args.limit), "--max-gen-toks", str(args.max_gen_toks)]
        print(f"{len(steps)} checkpoints, {args.limit} tasks each, {args.max_gen_toks} new tokens", flush=True)
        one_by_one = 0.0
        for i, step in enumerate(steps, 1):
            one_by_one += cli(["--model", str(run / f"checkpoint-{step}"), *common, "--out", str(work / f"one-{step}")],
                              work)
            print(f"  one by one: {i}/{len(steps)} ({one_by_one:.0f} s)", flush=True)
        sweep_out = work / "sweep"
        spec = ",".join(map(str, steps))
        sweep = cli(["--model", str(run), "--checkpoints", spec, *common, "--out", str(sweep_out)], work)
        print(f"  sweep: {sweep:.0f} s", flush=True)
        again = cli(["--model", str(run), "--checkpoints", spec, *common, "--out", str(sweep_out)], work)
        print(f"  sweep again (all read back): {again:.0f} s", flush=True)
    rows = [("one by one (`--model RUN/checkpoint-N`, each)", one_by_one, 1.0),
            ("one sweep (`--checkpoints`)", sweep, sweep / one_by_one),
            ("the sweep again (cached)", again, again / one_by_one)]
    print("\n| how | seconds | ratio to one by one |\n|---|---:|---:|")
    for how, sec, ratio in rows:
        print(f"| {how} | {sec:.1f} | {ratio:.2f} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "checkpoint_sweep", "run": args.run or f"built: {args.checkpoints} copies of the tiny model",
        "checkpoints": len(steps), "limit": args.limit, "max_gen_toks": args.max_gen_toks,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "loadavg_at_end": os.getloadavg()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rows": [{"how": h, "seconds": round(s, 1), "ratio": round(r, 3)} for h, s, r in rows]}, indent=2) + "\n")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
