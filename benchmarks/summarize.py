"""Writes the figures of benchmarks/README.md from benchmarks/results/*.json, so they live once.

    .venv/bin/python benchmarks/summarize.py            # rewrite every "### Figures" section of the README
    .venv/bin/python benchmarks/summarize.py --check    # exit 1 (and say which) if the README is out of date

benchmarks/README.md has one `## NAME` section per benchmark (NAME is the script's name without
`.py`); the `### Figures` subsection that ends each one is generated here from
`benchmarks/results/NAME.json` and replaced whole. Everything else in the README is written by
hand. A benchmark without a results file (`tiny_r1`, which reads the training run's own
summary) has no `### Figures` subsection. Not a benchmark itself: run with no arguments it only
regenerates the README, so `make bench`'s loop over benchmarks/*.py may run it (after the
others, for the figures to be the new ones).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
RESULTS = HERE / "results"
FIGURES = "### Figures"


def _n(x: float, digits: int = 2) -> str:
    """A figure with a thousands separator and `digits` decimals."""
    return f"{x:,.{digits}f}"


def _us(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1e6:,.0f} µs"


def _machine(m: dict) -> str:
    s = f"{m['cpus']} CPU cores"
    if m.get("loadavg_at_end"):
        s += f", load average at the end {m['loadavg_at_end'][0]:.1f}"
    return s


def verifier(r: dict) -> str:
    mix = r["mix"]
    kinds = ", ".join(f"{100 * v:.0f}% {k.replace('_', ' ')}" for k, v in mix["kinds"].items())
    lines = [f"Command `{r['command'].strip()}`, Python {r['python']}. A mix of {mix['n']:,} completions "
             f"({kinds}):", "",
             "| completions | ours (verifications/s) | `eval` scorer (/s) | ratio |", "|---|---:|---:|---:|",
             f"| the mix | {_n(mix['ours_per_s'], 0)} | {_n(mix['eval_per_s'], 0)} | **{mix['ratio']:.2f}×** |"]
    for kind, k in mix["per_kind"].items():
        lines.append(f"| {kind.replace('_', ' ')} ({k['n']:,}) | {_n(k['ours_per_s'], 0)} | "
                     f"{_n(k['eval_per_s'], 0)} | {k['ratio']:.2f}× |")
    lines += ["", f"Verdicts: the two scorers agree on {mix['verdicts_agree']:,} completions and differ on "
              f"{mix['verdicts_differ']:,}.", "",
              "| adversarial input | characters | ours | verdict | `eval` scorer |", "|---|---:|---:|---|---|"]
    for a in r["adversarial"]:
        theirs = _us(a["eval_s"]) if a["eval_status"] == "ok" else a["eval_status"]
        lines.append(f"| {a['case']} | {a['chars']:,} | {_us(a['ours_s'])} | `{a['ours_reason']}` | {theirs} |")
    slow, t, met = r["slowest_ours"], r["targets"], r["targets_met"]
    lines += ["", f"Slowest input for ours: {slow['case']}, {_us(slow['seconds'])} "
              f"(target ≤ {_us(t['max_seconds_per_input'])}: {'met' if met['max_seconds'] else 'NOT met'}); "
              f"throughput ratio target ≥ {t['ratio_at_least']:.2f}: {'met' if met['ratio'] else 'NOT met'}."]
    return "\n".join(lines)


def train_step(r: dict) -> str:
    s, p, o = r["settings"], r["arms"]["plain"], r["arms"]["ours"]
    lines = [f"Command `{r['command']}`; {r['note']}. {r['steps']} steps per arm and round, {r['rounds']} rounds; "
             f"{s['num_generations']} completions per prompt, batch {s['per_device_train_batch_size']}, "
             f"≤ {s['max_completion_length']} tokens, loss `{s['loss_type']}`.", "",
             "| arm | steps/s | tokens/s | peak RSS (MB) |", "|---|---:|---:|---:|",
             f"| plain TRL `GRPOTrainer` | {p['steps_per_s']:.3f} | {_n(p['tokens_per_s'], 0)} | "
             f"{_n(p['peak_rss_mb'], 0)} |",
             f"| `cli.py train`'s GRPO phase | {o['steps_per_s']:.3f} | {_n(o['tokens_per_s'], 0)} | "
             f"{_n(o['peak_rss_mb'], 0)} |",
             "", f"Ratio ours / plain: **{r['ratio']:.2f}** (target ≥ 0.95)."]
    return "\n".join(lines)


def eval_backends(r: dict) -> str:
    lines = [f"{r['when']}, {_machine(r['machine'])}; {r['limit']} tasks, up to {r['max_gen_toks']} new tokens "
             "each, one run, each backend a fresh `cli.py evaluate` process.", "",
             "| backend | eval time (s) | tasks/s | whole command (s) | server start-up (s, not included) |",
             "|---|---:|---:|---:|---:|"]
    for row in r["rows"]:
        if "error" in row:
            lines.append(f"| {row['backend']} | – | – | – | failed: {row['error']} |")
            continue
        start = row.get("server_startup_seconds")
        lines.append(f"| {row['backend']} | {row['eval_seconds']:.1f} | {row['tasks_per_second']:.1f} | "
                     f"{row['command_seconds']:.1f} | {'–' if start is None else f'{start:.1f}'} |")
    return "\n".join(lines)


def serving(r: dict) -> str:
    lines = [f"Command `{r['command']}`, {r['machine']['cpus']} CPU cores; {r['prompts']}, max_tokens "
             f"{r['max_tokens']}. Healthy after: vLLM {r['startup_s']['vllm']:.0f} s, transformers "
             f"{r['startup_s']['transformers']:.0f} s.", "",
             "| concurrency | requests | vLLM req/s | p50 s | p99 s | transformers req/s | p50 s | p99 s "
             "| req/s ratio | p50 ratio | p99 ratio |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for v, h, q in zip(r["vllm"], r["transformers"], r["ratios"]):
        lines.append(f"| {v['concurrency']} | {v['requests']} | {v['requests_per_s']:.2f} | {v['p50_s']:.2f} | "
                     f"{v['p99_s']:.2f} | {h['requests_per_s']:.2f} | {h['p50_s']:.2f} | {h['p99_s']:.2f} | "
                     f"{q['requests_per_s']:.1f}× | {q['p50_speedup']:.1f}× | {q['p99_speedup']:.1f}× |")
    errors = sum(x["errors"] for x in r["vllm"] + r["transformers"])
    tokens = sorted({x["mean_completion_tokens"] for x in r["vllm"] + r["transformers"]})
    lines += ["", f"Failed requests: {errors}. Mean completion tokens: {', '.join(map(str, tokens))}."]
    return "\n".join(lines)


def checkpoint_sweep(r: dict) -> str:
    lines = [f"{r['when']}, {_machine(r['machine'])}; run: {r['run']}; {r['checkpoints']} checkpoints × "
             f"{r['limit']} tasks × up to {r['max_gen_toks']} tokens.", "",
             "| how | seconds | ratio to one by one |", "|---|---:|---:|"]
    for row in r["rows"]:
        lines.append(f"| {row['how']} | {row['seconds']:.1f} | {row['ratio']:.3f} |")
    return "\n".join(lines)


def bytecode(r: dict) -> str:
    lines = [f"{r['when']}, {_machine(r['machine'])}, Python {r['python']}; command `{r['command']}`; CPU seconds "
             f"of one fresh process with PYTHONDONTWRITEBYTECODE=1, median of {r['rounds']} rounds.", "",
             "| the process imports | from source (s CPU) | precompiled (s CPU) | ratio |", "|---|---:|---:|---:|"]
    for row in r["rows"]:
        lines.append(f"| {row['imports']} | {row['source_cpu_s']:.1f} | {row['precompiled_cpu_s']:.1f} | "
                     f"**{row['ratio']:.2f}×** |")
    return "\n".join(lines)


RENDER = {"verifier": verifier, "bytecode": bytecode, "train_step": train_step, "eval_backends": eval_backends, "serving": serving,
          "checkpoint_sweep": checkpoint_sweep}


def figures(name: str) -> str:
    """The generated `### Figures` subsection of benchmark `name`."""
    path = RESULTS / f"{name}.json"
    body = RENDER[name](json.loads(path.read_text()))
    return f"{FIGURES}\n\n<!-- generated by benchmarks/summarize.py from benchmarks/results/{name}.json -->\n\n{body}\n"


def render(text: str) -> str:
    """`text` (the README) with every `### Figures` subsection regenerated from the JSON files."""
    parts = re.split(r"(?m)^(?=## )", text)
    out, seen = [], set()
    for part in parts:
        m = re.match(r"## (\w+)", part)
        if not m or FIGURES not in part:
            out.append(part)
            continue
        name = m.group(1)
        if name not in RENDER:
            raise SystemExit(f"benchmarks/README.md: section {name!r} has {FIGURES} but no renderer in summarize.py")
        seen.add(name)
        head = part[:part.index(FIGURES)]
        out.append(head + figures(name) + ("\n" if part is not parts[-1] else ""))
    missing = {p.stem for p in RESULTS.glob("*.json")} - seen
    if missing:
        raise SystemExit(f"benchmarks/README.md has no '## NAME' section with {FIGURES} for: "
                         + ", ".join(sorted(missing)))
    return "".join(out)


def main(argv: list[str]) -> int:
    text = README.read_text()
    new = render(text)
    if "--check" in argv:
        if new != text:
            print("benchmarks/README.md is out of date with benchmarks/results/*.json: "
                  "run `.venv/bin/python benchmarks/summarize.py`", file=sys.stderr)
            return 1
        return 0
    if new != text:
        README.write_text(new)
        print("rewrote benchmarks/README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
