"""`cli.py evaluate`: a checkpoint against its baseline on the 500 held-out Countdown tasks,
through lm-eval, with the reference's table and reports in the run's eval/ folder.

    python cli.py evaluate                                      # embedded run vs its baseline
    python cli.py evaluate --model runs/NAME                    # a run: final model, its split, its baseline
    python cli.py evaluate --model PATH --baseline PATH --backend vllm
    python cli.py evaluate --backend api --base-url http://127.0.0.1:8000 --api-key KEY
    python cli.py evaluate --num-samples 8 --temperature 1.0    # pass@8 and majority vote

Only click at import time: lm-eval, torch and vLLM load inside the command.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import click

BACKENDS = ("hf", "vllm", "api")  # evaluation.backends.BACKENDS, repeated to keep --help instant


def _say(msg: str) -> None:
    click.echo(msg, err=True)


def _safe(label: str) -> str:
    return re.sub(r"[^\w.-]+", "-", label).strip("-") or "model"


@click.command()
@click.option("--model", "model", default=None,
              help="Run directory, model directory or hub id. [default: runs/tiny-r1-countdown]; "
                   "with --backend api: the served model's name (or a run dir, for its test split).")
@click.option("--baseline", default=None, help="Model to compare against. [default: the run's baseline]")
@click.option("--no-baseline", is_flag=True, help="Evaluate --model alone.")
@click.option("--backend", type=click.Choice(BACKENDS), default="hf", show_default=True)
@click.option("--test-file", default=None, type=click.Path(),
              help="Held-out split (test.jsonl or a `cli.py data` folder). [default: the run's, else "
                   "$MINI_R1_COUNTDOWN_TEST, data/countdown/test.jsonl, the default 500 synthetic tasks]")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N tasks (for quick checks).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output folder. [default: RUN/eval, else runs/eval/MODEL]")
@click.option("--num-samples", type=click.IntRange(min=1), default=1, show_default=True,
              help="Samples per task: > 1 reports pass@k and majority vote (needs sampling).")
@click.option("--temperature", type=click.FloatRange(min=0), default=None,
              help="Sampling temperature. [default: greedy; 1.0 when --num-samples > 1]")
@click.option("--max-gen-toks", type=click.IntRange(min=1), default=None,
              help="New-token budget. [default: 1024, capped by the model's context]")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="[default: hf 16, vllm auto]")
@click.option("--dtype", default=None, help="Weights dtype for hf/vllm. [default: auto; bfloat16 for vLLM on CPU]")
@click.option("--max-model-len", type=click.IntRange(min=1), default=None, help="vLLM context length.")
@click.option("--base-url", default=None, help="api backend: the server, e.g. http://127.0.0.1:8000")
@click.option("--baseline-url", default=None, help="api backend: a second server serving the baseline.")
@click.option("--api-key", envvar="MINI_R1_API_KEY", default=None, help="api backend key. [env: MINI_R1_API_KEY]")
@click.option("--num-concurrent", type=click.IntRange(min=1), default=8, show_default=True,
              help="api backend: requests in flight.")
@click.option("--verbose", is_flag=True, help="Show lm-eval's and vLLM's logs.")
def evaluate(model, baseline, no_baseline, backend, test_file, limit, out_dir, num_samples, temperature,
             max_gen_toks, batch_size, dtype, max_model_len, base_url, baseline_url, api_key, num_concurrent,
             verbose):
    """Evaluate a checkpoint (and its baseline) on the held-out Countdown tasks with lm-eval."""
    from .runner import publish, run_model, stage_model_outputs, staging_dir
    from .targets import EvalError, embedded_run, resolve_target

    try:
        if backend == "api":
            if not base_url:
                raise click.UsageError("--backend api needs --base-url")
            if baseline and not baseline_url:
                raise click.UsageError("over the api backend the baseline is a second server: give --baseline-url")
            target = resolve_target(model) if model and Path(model).expanduser().exists() else None
            baseline_spec = None if no_baseline or not baseline_url else baseline_url
        else:
            if base_url or baseline_url:
                raise click.UsageError("--base-url/--baseline-url are for --backend api")
            target = resolve_target(model if model else embedded_run())
            baseline_spec = None if no_baseline else (baseline or target.baseline)
            if baseline_spec:  # fail before spending minutes on the first model
                try:
                    baseline_spec = resolve_target(baseline_spec).model
                except EvalError as e:
                    where = "--baseline" if baseline else f"the run's baseline (run.json) {baseline_spec!r}"
                    raise EvalError(f"{where}: {e}; pass --baseline PATH or --no-baseline") from None
        split = test_file or (target.test_file if target else None)
        common = dict(backend=backend, limit=limit, num_samples=num_samples, temperature=temperature,
                      max_gen_toks=max_gen_toks, batch_size=batch_size, dtype=dtype, max_model_len=max_model_len,
                      api_key=api_key, num_concurrent=num_concurrent, verbose=verbose)
        if target and target.test_file and not test_file and not Path(target.test_file).is_file():
            raise EvalError(f"the run's test split {target.test_file} is missing: recreate it with "
                            "`python cli.py data` or pass --test-file")

        if out_dir is None:
            out_dir = (target.run_dir / "eval") if target and target.run_dir else \
                Path("runs/eval") / _safe(target.label if target else (model or "served-model"))
        out = Path(out_dir)

        if backend == "api":
            plan = ([("baseline", baseline, baseline_url)] if baseline_spec else []) + [("model", model, base_url)]
        else:
            plan = ([("baseline", baseline_spec, None)] if baseline_spec else []) + [("model", target.model, None)]
        runs = []
        for i, (role, spec, url) in enumerate(plan, 1):
            _say(f"[{i}/{len(plan)}] {role}: {spec or url} ({backend} backend)")
            run = run_model(spec, test_file=split, base_url=url, **common)
            if backend != "api":
                shown = baseline or target.baseline or spec
                run.summary["label"] = target.label if role == "model" else \
                    f"baseline: {Path(shown).name if Path(shown).exists() else shown}"
            elif role == "baseline":
                run.summary["label"] = f"baseline: {run.summary['label']}"
            # The baseline and the model are scored on one split: pin it after the first run.
            split = split or (run.summary["test_split"] if Path(run.summary["test_split"]).exists() else None)
            runs.append((role, run))
    except EvalError as e:
        raise click.ClickException(str(e)) from None

    from .report import bar_chart, main_table, difference, breakdown_tables, markdown_report

    summaries = [r.summary for _, r in runs]
    by_role = dict(runs)
    base_s = by_role["baseline"].summary if "baseline" in by_role else None
    model_s = by_role["model"].summary

    staging = staging_dir(out)
    try:
        for role, run in runs:
            stage_model_outputs(run, staging / role)
        (staging / "report.md").write_text(markdown_report(summaries, base_s, model_s), encoding="utf-8")
        bar_chart(summaries, staging / "accuracy.png")
        combined = {"model": model_s, "baseline": base_s,
                    "difference": None if base_s is None else {
                        "correct": model_s["correct"] - base_s["correct"],
                        "accuracy": (model_s["accuracy"] or 0) - (base_s["accuracy"] or 0)}}
        (staging / "summary.json").write_text(json.dumps(combined, indent=2) + "\n", encoding="utf-8")
        for stale in {"model", "baseline"} - {role for role, _ in runs}:  # a previous run's, now misleading
            shutil.rmtree(out / stale, ignore_errors=True)
        publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    click.echo(main_table(summaries))
    if base_s is not None:
        click.echo(difference(base_s, model_s))
    click.echo("")
    click.echo(breakdown_tables(summaries, base_s))
    click.echo(f"\nwrote {out}/: report.md, accuracy.png, summary.json, "
               + ", ".join(f"{role}/{{results.json,samples.jsonl}}" for role, _ in runs))
    sys.stdout.flush()
