"""What `make setup`'s precompiled bytecode (`uv pip sync --compile-bytecode`) saves each Python
process that imports the training or serving stack, where PYTHONDONTWRITEBYTECODE is set (as on the
CI machine: Python then never caches what it compiles, and every process compiles torch,
transformers, TRL or vLLM from source again).

    .venv/bin/python benchmarks/bytecode.py              # prints a table, writes benchmarks/results/bytecode.json
    .venv/bin/python benchmarks/bytecode.py --rounds 5

Both arms run in this one run, interleaved, in fresh processes with PYTHONDONTWRITEBYTECODE=1:
"from source" points PYTHONPYCACHEPREFIX at an empty folder, so no .pyc is found and nothing is
written (what a venv without precompiled bytecode gives); "precompiled" reads the venv's own
__pycache__. CPU seconds of the child process, median of the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "bytecode.json"
# What the processes of a run and of the tests import first: a torchrun rank / `cli.py train`, a
# `cli.py evaluate` (lm-eval), a vLLM server.
IMPORTS = {
    "torch": "import torch",
    "transformers + trl (a training rank)": "import torch, transformers, trl; from trl import GRPOTrainer",
    "lm_eval (cli.py evaluate)": "import lm_eval, lm_eval.evaluator",
    "vllm (a server)": "import vllm, vllm.entrypoints.openai.api_server",
}


def child_seconds(code: str, prefix: str | None) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of `python -c code` in a fresh process."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPYCACHEPREFIX", None)
    if prefix:
        env["PYTHONPYCACHEPREFIX"] = prefix
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"`{code}` failed: {r.stderr.strip().splitlines()[-1:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as empty:
        for name, code in IMPORTS.items():
            cpu = {"source": [], "precompiled": []}
            wall = {"source": [], "precompiled": []}
            for _ in range(args.rounds):  # interleaved, so machine load hits both arms alike
                for arm, prefix in (("source", empty), ("precompiled", None)):
                    c, w = child_seconds(code, prefix)
                    cpu[arm].append(c)
                    wall[arm].append(w)
            row = {"imports": name, "code": code,
                   **{f"{arm}_cpu_s": round(statistics.median(cpu[arm]), 2) for arm in cpu},
                   **{f"{arm}_wall_s": round(statistics.median(wall[arm]), 2) for arm in wall}}
            row["ratio"] = round(row["precompiled_cpu_s"] / row["source_cpu_s"], 3)
            rows.append(row)
            print(f"{name:<40} from source {row['source_cpu_s']:6.1f} s CPU   precompiled "
                  f"{row['precompiled_cpu_s']:6.1f} s CPU   ratio {row['ratio']:.2f}", flush=True)
    result = {"benchmark": "bytecode", "when": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
              "machine": {"cpus": os.cpu_count(), "loadavg_at_end": list(os.getloadavg())},
              "command": "python benchmarks/bytecode.py" + (f" --rounds {args.rounds}" if args.rounds != 3 else ""),
              "rounds": args.rounds, "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
