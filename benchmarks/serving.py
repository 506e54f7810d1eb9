#!/usr/bin/env python
"""Serving benchmark: requests/s and p50/p99 latency at concurrency 1, 8 and 32 for the
project's vLLM server (`serve.server`, as `cli.py serve` runs it) against Hugging Face
`transformers serve` on the same model, with the same chat requests (Countdown prompts,
greedy, same max_tokens), in one run. The two servers run one after the other so they never
share the CPU. Loopback only; bounded request counts.

    .venv/bin/python benchmarks/serving.py                      # the tiny model, built fresh
    .venv/bin/python benchmarks/serving.py --model runs/tiny-r1-countdown --max-tokens 64

Writes benchmarks/results/serving.json and prints a table with the vLLM / transformers ratios.
Both servers decode greedily (temperature 0), so they generate the same tokens; the
completion tokens actually produced are reported beside the timings to show it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LEVELS = (1, 8, 32)
# Requests per concurrency level: enough for a p99 to mean something, bounded for a CPU.
REQUESTS = {1: 16, 8: 48, 32: 96}


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def prompts(n: int) -> list[list[dict]]:
    from tasks.countdown.data import default_test_tasks
    from tasks.countdown.prompt import build_messages

    # No assistant prefill: `transformers serve` always adds a generation prompt, so both
    # servers get exactly the same chat-templated prompt this way.
    return [build_messages(t["nums"], t["target"], prefill=False) for t in default_test_tasks(n)]


async def load(base_url: str, model: str, concurrency: int, n: int, max_tokens: int, msgs) -> dict:
    import openai

    client = openai.AsyncOpenAI(base_url=base_url + "/v1", api_key="EMPTY", timeout=600, max_retries=0)
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    tokens: list[int] = []
    errors = 0

    async def one(i: int):
        nonlocal errors
        async with sem:
            t0 = time.perf_counter()
            try:
                r = await client.chat.completions.create(model=model, messages=msgs[i % len(msgs)],
                                                         max_tokens=max_tokens, temperature=0.0)
            except openai.APIError:
                errors += 1
                return
            latencies.append(time.perf_counter() - t0)
            tokens.append(r.usage.completion_tokens if r.usage else 0)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - t0
    await client.close()
    ok = len(latencies)
    return {
        "concurrency": concurrency, "requests": n, "ok": ok, "errors": errors, "wall_s": round(wall, 3),
        "requests_per_s": round(ok / wall, 3), "tokens_per_s": round(sum(tokens) / wall, 1),
        "mean_completion_tokens": round(statistics.mean(tokens), 1) if tokens else 0,
        "p50_s": round(percentile(latencies, 0.50), 3) if ok else None,
        "p99_s": round(percentile(latencies, 0.99), 3) if ok else None,
    }


def run_levels(name: str, base_url: str, model: str, max_tokens: int, msgs) -> list[dict]:
    # One warm-up request: first-call costs (lazy model load, kernel selection) are not serving.
    asyncio.run(load(base_url, model, 1, 1, max_tokens, msgs))
    out = []
    for c in LEVELS:
        res = asyncio.run(load(base_url, model, c, REQUESTS[c], max_tokens, msgs))
        print(f"  {name:<13} concurrency {c:>2}: {res['requests_per_s']:7.2f} req/s  "
              f"p50 {res['p50_s']:.3f} s  p99 {res['p99_s']:.3f} s  ({res['ok']}/{res['requests']} ok)",
              file=sys.stderr)
        out.append(res)
    return out


def bench_vllm(model_dir: Path, max_tokens: int, msgs) -> tuple[list[dict], float]:
    from serve.server import ServerConfig, VLLMServer, free_port

    cfg = ServerConfig(model_dir=model_dir, served_name="bench", port=free_port())
    t0 = time.perf_counter()
    with VLLMServer(cfg) as server:
        server.wait_healthy(progress=True)
        startup = time.perf_counter() - t0
        print(f"vLLM healthy in {startup:.0f} s", file=sys.stderr)
        return run_levels("vllm", server.base_url, "bench", max_tokens, msgs), startup


def bench_transformers(model_dir: Path, max_tokens: int, msgs, timeout: float = 300) -> tuple[list[dict], float]:
    from serve.server import free_port

    port = free_port()
    exe = Path(sys.executable).with_name("transformers")
    cmd = [str(exe), "serve", str(model_dir), "--device", "cpu", "--dtype", "float32", "--host", "127.0.0.1",
           "--port", str(port)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    log = tempfile.NamedTemporaryFile(prefix="transformers-serve-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    try:
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.perf_counter() - t0 > timeout:
                tail = Path(log.name).read_text(errors="replace")[-2000:]
                raise SystemExit(f"transformers serve did not become healthy; log tail:\n{tail}")
            time.sleep(0.5)
        startup = time.perf_counter() - t0
        print(f"transformers serve healthy in {startup:.0f} s", file=sys.stderr)
        # Its /v1/models lists only the hub cache; with a forced model any name is served.
        return run_levels("transformers", base, str(model_dir), max_tokens, msgs), startup
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def table(vllm: list[dict], hf: list[dict]) -> str:
    head = (f"{'conc':>4} | {'vLLM req/s':>10} {'p50 s':>7} {'p99 s':>7} | {'HF req/s':>9} {'p50 s':>7} {'p99 s':>7}"
            f" | {'req/s ×':>8} {'p50 ÷':>7} {'p99 ÷':>7}")
    rows = [head, "-" * len(head)]
    for v, h in zip(vllm, hf):
        rows.append(
            f"{v['concurrency']:>4} | {v['requests_per_s']:>10.2f} {v['p50_s']:>7.3f} {v['p99_s']:>7.3f} | "
            f"{h['requests_per_s']:>9.2f} {h['p50_s']:>7.3f} {h['p99_s']:>7.3f} | "
            f"{v['requests_per_s'] / h['requests_per_s']:>8.2f} {h['p50_s'] / v['p50_s']:>7.2f} "
            f"{h['p99_s'] / v['p99_s']:>7.2f}")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="checkpoint or run dir (default: a fresh random tiny model)")
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "serving.json"))
    args = ap.parse_args()

    from common.run_dir import resolve_model_dir

    if args.model:
        model_dir = resolve_model_dir(args.model)
    else:
        from train.tiny_model import build_tiny_model

        model_dir = build_tiny_model(Path(tempfile.mkdtemp(prefix="bench-tiny-")) / "tiny")
    msgs = prompts(64)
    vllm, vllm_start = bench_vllm(model_dir, args.max_tokens, msgs)
    hf, hf_start = bench_transformers(model_dir, args.max_tokens, msgs)

    print(table(vllm, hf))
    print("(req/s ×: vLLM throughput / transformers'; p50 ÷, p99 ÷: transformers latency / vLLM's)")
    result = {
        "model": str(model_dir), "max_tokens": args.max_tokens, "prompts": "Countdown chat prompts, greedy",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "startup_s": {"vllm": round(vllm_start, 1), "transformers": round(hf_start, 1)},
        "vllm": vllm, "transformers": hf,
        "ratios": [{"concurrency": v["concurrency"],
                    "requests_per_s": round(v["requests_per_s"] / h["requests_per_s"], 2),
                    "p50_speedup": round(h["p50_s"] / v["p50_s"], 2),
                    "p99_speedup": round(h["p99_s"] / v["p99_s"], 2)} for v, h in zip(vllm, hf)],
        "command": "python benchmarks/serving.py" + (f" --model {args.model}" if args.model else "")
                   + f" --max-tokens {args.max_tokens}",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
