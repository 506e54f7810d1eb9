"""Writes the figures of benchmarks/README.md from benchmarks/results/*.json, so they live once.

    .venv/bin/python benchmarks/summarize.py            # rewrite every "### Figures" section of the README
    .venv/bin/python benchmarks/summarize.py --check    # exit 1 (and say which) if the README is out of date

benchmarks/README.md has one `## NAME` section per benchmark (NAME is the script's name without
`.py`); the `### Figures` subsection that ends each one is generated here from
`benchmarks/results/NAME.json` and replaced whole. Everything else in the README is written by
hand. The root README's headline row and per-seed line come from `results/main_job.json` too
(`headline`): the project's result is written once. Not a benchmark itself: run with no arguments it only
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
ROOT_README = HERE.parent / "README.md"
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


def _steps(run: dict, phase: str) -> str:
    p = (run.get("phases") or {}).get(phase, {})
    return f"{p.get('steps', '?')}" + (f" of {p['planned_steps']}" if p.get("planned_steps") != p.get("steps") else "")


def _min(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f} min"


def _paired(ev: dict | None) -> str:
    if not ev:
        return "–"
    return f"{ev['only_baseline']} / {ev['only_trained']}, p = {ev['p_value']:.2g}"


def main_job(r: dict) -> str:
    lines = [f"`{r['command']}`: one fresh clone per seed, nothing else running. Times in minutes; the "
             "phases are the run's own (`summary.json`'s `phases`).", "",
             "| seed | commit, date | machine | threads | install | cold start (steps) | curriculum | GRPO (steps) "
             "| final scoring | whole command | test, greedy | gain | `evaluate`: one only (base / trained), McNemar p "
             "| sampled |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for run in r["runs"]:
        ph = run.get("phases") or {}
        samp = run.get("sampled")
        lines.append(
            f"| {run['seed']} | {run['commit']}, {run['date']} | {run['machine']['cpus']} × {run['machine']['cpu_model']} "
            f"| {run['torch_threads']} | {_min(run['setup_seconds'])} "
            f"| {_min(ph.get('cold start', {}).get('seconds'))} ({_steps(run, 'cold start')}) "
            f"| {_min(ph.get('curriculum', {}).get('seconds'))} "
            f"| {_min(ph.get('GRPO', {}).get('seconds'))} ({_steps(run, 'GRPO')}) "
            f"| {_min(ph.get('final scoring', {}).get('seconds'))} | **{_min(run['whole_seconds'])}** "
            f"| {run['baseline']['correct']} → {run['trained']['correct']}/{run['trained']['total']} "
            f"| **{run['gain_points']:+.1f}** | {_paired(run.get('evaluate'))} | "
            + (f"{samp['baseline']} → {samp['trained']} ({samp['gain_points']:+.1f})" if samp else "–") + " |")
    m = r["summary"]
    lines += ["", f"Mean ± sd over seeds {', '.join(map(str, m['seeds']))}: greedy gain "
              f"**{m['gain_points']['mean']:+.1f} ± {m['gain_points']['sd']:.1f} points** "
              f"({m['baseline_correct']['mean']:.1f} → {m['trained_correct']['mean']:.1f} of 500); whole command "
              f"{m['whole_minutes']['mean']:.1f} ± {m['whole_minutes']['sd']:.1f} min"
              + ("" if m["all_full_runs"] else "; **some runs were shortened by a budget**") + "."]
    for run in r["runs"]:
        if run.get("shortened"):
            lines.append(f"Seed {run['seed']}: {run['shortened']}")
    return "\n".join(lines)


# The README's headline: lines of the root README.md that start with these prefixes are generated from
# benchmarks/results/main_job.json (the rest of the README is written by hand).
HEADLINE_ROW = "| this project, embedded CPU default"
HEADLINE_SEEDS = "Per seed (`make train`"


def headline(r: dict) -> dict[str, str]:
    runs, m = r["runs"], r["summary"]
    first = runs[0]
    ph = first.get("phases") or {}
    steps = f"{ph.get('cold start', {}).get('planned_steps', '?')} SFT + {ph.get('GRPO', {}).get('planned_steps', '?')} GRPO steps"
    row = (f"{HEADLINE_ROW} (`make train`: tiny Qwen2, {first['machine']['cpus']} CPU cores, {steps}, "
           f"{m['whole_minutes']['mean']:.0f} min with the install; mean of seeds {', '.join(map(str, m['seeds']))}) "
           f"| {m['baseline_correct']['mean']:.1f}/500 (cold start) "
           f"| {m['trained_correct']['mean']:.1f}/500 ({m['gain_points']['mean']:+.1f} ± {m['gain_points']['sd']:.1f} points) |")
    seeds = (f"{HEADLINE_SEEDS}, fresh clone, measured {first['date']}): "
             + "; ".join(f"seed {x['seed']}: {x['baseline']['correct']} → {x['trained']['correct']}/500 "
                         f"({x['gain_points']:+.1f})" + (" SHORTENED" if x.get("shortened") else "") for x in runs)
             + ". Every figure: [`benchmarks/README.md`](benchmarks/README.md#main_job).")
    return {HEADLINE_ROW: row, HEADLINE_SEEDS: seeds}


def render_root_readme(text: str) -> str:
    """The root README with its headline lines regenerated from benchmarks/results/main_job.json."""
    lines = text.split("\n")
    for prefix, new in headline(json.loads((RESULTS / "main_job.json").read_text())).items():
        hits = [i for i, line in enumerate(lines) if line.startswith(prefix)]
        if len(hits) != 1:
            raise SystemExit(f"README.md: expected one line starting with {prefix!r}, found {len(hits)}")
        lines[hits[0]] = new
    return "\n".join(lines)


def cpu_model(r: dict) -> str:
    """' (MODEL)' when the result names its CPU: ratios move between CPUs (bf16 units, AMX)."""
    return f" ({r['cpu_model']})" if r.get("cpu_model") else ""


def roofline(r: dict) -> str:
    lines = [f"{r['date']}, {r['cpus']} CPU cores{cpu_model(r)}, {r['threads']} torch thread(s); the tiny model's "
             f"{r['matmul_params'] / 1e6:.2f}M matmul parameters. A bf16 row computes under CPU autocast (fp32 "
             "master weights), as `bf16: true` does, against bf16 `matmul` at the same M; a training row names its "
             "attention (the recipe trains with eager attention, cold start and GRPO); a bf16 copy row generates from "
             "the recipe's bf16 generation copy (`generation_dtype: bfloat16`: bf16 weights, eager attention unless "
             "it says SDPA), against the fp32 row above it.", "",
             "| phase | precision | shape | tokens/s | useful GFLOP/s | roofline at its M (GFLOP/s) | share of the roofline "
             "| speed-up over fp32 (same run) |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for row in r["rows"]:
        up = f"**{row['speedup_vs_fp32']:.2f}x**" if "speedup_vs_fp32" in row else ""
        lines.append(f"| {row['phase']} | {row.get('precision', 'fp32')} | {row['shape']} (M = {row['m']:,}) | "
                     f"{_n(row['tokens_per_s'], 0)} | {row['useful_gflops']:.1f} | {row['roofline_gflops']:.1f} | "
                     f"**{row['ratio']:.0%}** | {up} |")
    if d := r.get("decode_step_128"):
        lines += ["", "One decode step at 128 sequences (fp32), taken apart: "
                  + ", ".join(f"{k} {v:.1f} ms" for k, v in d.items()) + "."]
    return "\n".join(lines)


def recipe_speed(r: dict) -> str:
    w, fp, new = r["recipe_work"], r["priced_seconds"]["fp32"], r["priced_seconds"]["recipe"]
    lines = [f"{r['date']}, {r['cpus']} CPU cores{cpu_model(r)}, {r['threads']} torch thread(s). Each arm ran "
             f"`{' '.join(r['work_per_arm'])}`; priced at the recipe's work: {w['cold_start_steps']} SFT steps, "
             f"{w['curriculum_prompts']:,} curriculum prompts, {w['grpo_steps']} GRPO steps x "
             f"{w['rounds_per_step']:.2f} generation rounds needed (the main job's mean), {w['val_passes']} validation "
             "passes, the scoring.", "",
             "| phase | fp32 settings (s) | recipe (s) | speed-up |", "|---|---:|---:|---:|"]
    for k in fp:
        lines.append(f"| {k} | {fp[k]:.0f} | {new[k]:.0f} | {fp[k] / new[k]:.2f}x |")
    lines.append(f"| **whole run** | **{sum(fp.values()):.0f}** | **{sum(new.values()):.0f}** | "
                 f"**{r['whole_speedup']:.2f}x** |")
    a = r["arms"]
    lines += ["", "Measured unit costs (s): " + "; ".join(
        f"{k.removeprefix('s_').replace('_', ' ')} {a['fp32']['unit'][k]:.3g} -> {a['recipe']['unit'][k]:.3g}"
        for k in a["recipe"]["unit"]) + f". Rounds a step in the arms' own GRPO steps: "
        f"{a['fp32']['rounds_per_step']} (fp32), {a['recipe']['rounds_per_step']} (recipe); rounds a generation call: "
        f"{a['fp32'].get('rounds_per_call', 1)} (fp32), {a['recipe'].get('rounds_per_call', 1)} (recipe)."]
    return "\n".join(lines)


RENDER = {"main_job": main_job, "recipe_speed": recipe_speed, "roofline": roofline, "verifier": verifier, "bytecode": bytecode, "train_step": train_step, "eval_backends": eval_backends, "serving": serving,
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
    status = 0
    for path, make in ((README, render), (ROOT_README, render_root_readme)):
        text = path.read_text()
        new = make(text)
        if "--check" in argv:
            if new != text:
                print(f"{path.relative_to(HERE.parent)} is out of date with benchmarks/results/*.json: "
                      "run `.venv/bin/python benchmarks/summarize.py`", file=sys.stderr)
                status = 1
        elif new != text:
            path.write_text(new)
            print(f"rewrote {path.relative_to(HERE.parent)}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
