"""`cli.py evaluate`: a checkpoint against its baseline on the 500 held-out Countdown tasks,
through lm-eval, with the reference's table and reports in the run's eval/ folder.

    python cli.py evaluate                                      # embedded run vs its baseline
    python cli.py evaluate --model runs/NAME                    # a run: final model, its split, its baseline
    python cli.py evaluate --model PATH --baseline PATH --backend vllm
    python cli.py evaluate --backend api --base-url http://127.0.0.1:8000 --api-key KEY
    python cli.py evaluate --num-samples 8 --temperature 1.0    # pass@8 and majority vote
    python cli.py evaluate --model runs/A --model runs/B        # several models, paired on the same tasks

Only click at import time: lm-eval, torch and vLLM load inside the command.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import click

from common.errors import UserError
from common.interrupts import InterruptLatch
from common.run_dir import ACCURACY_VS_STEP, EVAL, SWEEP

BACKENDS = ("hf", "vllm", "api")  # evaluation.backends.BACKENDS, repeated to keep --help instant


def _say(msg: str) -> None:
    click.echo(msg, err=True)


def _progress(i: int, n: int, name: str, s: dict, cached: bool) -> str:
    how = "read back (same settings)" if cached else \
        f"scored in {s['wall_seconds']:.0f} s ({s['tasks_per_second']} tasks/s)"
    return f"[{i}/{n}] {name}: {s['correct']}/{s['total']}, {how}; {n - i} left"


def _interrupted(done: int, n: int, what: str, out: Path):
    _say(f"interrupted: {done} of {n} {what} are scored and kept in {out}; the same command continues from there")
    sys.exit(130)


def _safe(label: str) -> str:
    return re.sub(r"[^\w.-]+", "-", label).strip("-") or "model"


@click.command()
@click.option("--model", "models", multiple=True,
              help="Run directory, model directory or hub id. [default: runs/tiny-r1-countdown]; "
                   "with --backend api: the served model's name (or a run dir, for its test split). "
                   "Repeat to compare several models in one table, paired on the same tasks.")
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
@click.option("--checkpoints", default=None, metavar="all|STEP,...",
              help="Score every kept checkpoint of the run --model names (or the listed steps and 'final'), and "
                   "its baseline, on its test split: a table and RUN/eval/sweep/accuracy_vs_step.png. Points "
                   "already scored with the same settings are read back, so a stopped sweep continues.")
@click.option("--verbose", is_flag=True, help="Show lm-eval's and vLLM's logs.")
def evaluate(models, baseline, no_baseline, backend, test_file, limit, out_dir, num_samples, temperature,
             max_gen_toks, batch_size, dtype, max_model_len, base_url, baseline_url, api_key, num_concurrent,
             checkpoints, verbose):
    """Evaluate a checkpoint (and its baseline) on the held-out Countdown tasks with lm-eval."""
    from .runner import run_model
    from .targets import EvalError, embedded_run, resolve_target

    common = dict(backend=backend, limit=limit, num_samples=num_samples, temperature=temperature,
                  max_gen_toks=max_gen_toks, batch_size=batch_size, dtype=dtype, max_model_len=max_model_len,
                  api_key=api_key, num_concurrent=num_concurrent, verbose=verbose)
    if checkpoints:
        if backend == "api":
            raise click.UsageError("--checkpoints with the api backend: a server serves one checkpoint; serve each "
                                   "(cli.py serve --model RUN/checkpoint-N) and score it with --base-url, or sweep "
                                   "with --backend hf/vllm")
        if len(models) > 1:
            raise click.UsageError("--checkpoints sweeps one run: give one --model RUN")
        return _sweep(models[0] if models else None, checkpoints, None if no_baseline else baseline, test_file,
                      out_dir, common)
    if len(models) > 1:
        if backend == "api":
            raise click.UsageError("several --model over the api backend: one server serves one model; score each "
                                   "with its own --base-url run, or compare checkpoints with --backend hf/vllm")
        return _evaluate_several(models, None if no_baseline else baseline, test_file, out_dir, common)
    model = models[0] if models else None
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
                except UserError as e:
                    where = "--baseline" if baseline else f"the run's baseline (run.json) {baseline_spec!r}"
                    raise EvalError(f"{where}: {e}; pass --baseline PATH or --no-baseline") from None
        split = test_file or (target.test_file if target else None)
        if target and target.test_file and not test_file and not Path(target.test_file).is_file():
            raise EvalError(f"the run's test split {target.test_file} is missing: recreate it with "
                            "`python cli.py data` or pass --test-file")

        if out_dir is None:
            out_dir = (target.run_dir / EVAL) if target and target.run_dir else \
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
    except UserError as e:
        raise click.ClickException(str(e)) from None

    from .compare import pair_runs
    from .report import breakdown_tables, difference, main_table, pairwise_table, write_evaluation

    summaries = [r.summary for _, r in runs]
    by_role = dict(runs)
    base_s = by_role["baseline"].summary if "baseline" in by_role else None
    model_s = by_role["model"].summary
    pairs = pair_runs([r for _, r in runs])
    write_evaluation(out, runs, pairs)
    if target and target.run_dir and out.resolve() == (target.run_dir / EVAL).resolve():
        from .model_card import write_model_card

        write_model_card(target.run_dir)  # the run's card shows the table just scored

    click.echo(main_table(summaries))
    if base_s is not None:
        click.echo(difference(base_s, model_s))
        click.echo("\n" + pairwise_table(pairs))
    click.echo("")
    click.echo(breakdown_tables(summaries, base_s))
    click.echo(f"\nwrote {out}/: report.md, accuracy.png, summary.json, "
               + ", ".join(f"{role}/{{results.json,samples.jsonl}}" for role, _ in runs))
    sys.stdout.flush()


def _evaluate_several(models, baseline, test_file, out_dir, common):
    """`--model A --model B …`: every model (and --baseline, first, when given) on one split, one
    table, one chart, and every pair compared on the same tasks. Each model is published to
    OUT/LABEL/ as soon as it is scored and read back by a later run with the same settings, so an
    interrupted comparison continues (evaluation/sweep.py)."""
    from .compare import common_split, pair_runs, unique_labels
    from .report import bar_chart, breakdown_tables, main_table, markdown_report, pairwise_table
    from .runner import publish, staging_dir
    from .sweep import Point, score_point
    from .targets import EvalError, resolve_target

    runs, plan, out = [], [], Path(out_dir or "runs/eval")
    try:
        targets = [resolve_target(m) for m in models]
        split = common_split(targets, test_file)
        base = resolve_target(baseline) if baseline else None
        plan = ([(f"baseline: {base.label}", base.model)] if base else []) + [(t.label, t.model) for t in targets]
        labels = unique_labels([label for label, _ in plan])
        if split and not Path(split).exists():
            raise EvalError(f"test split {split} is missing: recreate it with `python cli.py data` or pass --test-file")
        out = Path(out_dir) if out_dir else \
            Path("runs/eval") / ("compare-" + "-vs-".join(_safe(x) for x in labels))[:120]
        with InterruptLatch() as latch:
            for i, (label, (_, spec)) in enumerate(zip(labels, plan), 1):
                _say(f"[{i}/{len(plan)}] {label} ({common['backend']} backend)")
                run, cached = score_point(Point(_safe(label), None, spec), split, common, out, label=label)
                _say(_progress(i, len(plan), label, run.summary, cached))
                split = split or (run.summary["test_split"] if Path(run.summary["test_split"]).exists() else None)
                runs.append(run)
                latch.check()  # a Ctrl-C swallowed during the model's scoring (common/interrupts.py)
        pairs = pair_runs(runs)
    except KeyboardInterrupt:
        _interrupted(len(runs), len(plan), "models", out)
    except UserError as e:
        raise click.ClickException(str(e)) from None

    summaries = [r.summary for r in runs]
    base_s = summaries[0] if base else None
    staging = staging_dir(out)
    try:
        (staging / "report.md").write_text(markdown_report(summaries, None, None, pairs), encoding="utf-8")
        bar_chart(summaries, staging / "accuracy.png")
        (staging / "summary.json").write_text(json.dumps(
            {"models": summaries, "baseline": base_s["label"] if base_s else None, "pairs": pairs}, indent=2) + "\n",
            encoding="utf-8")
        publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    click.echo(main_table(summaries))
    click.echo("\n" + pairwise_table(pairs) + "\n")
    click.echo(breakdown_tables(summaries, base_s))
    click.echo(f"\nwrote {out}/: report.md, accuracy.png, summary.json, "
               + ", ".join(f"{_safe(x)}/{{results.json,samples.jsonl}}" for x in labels))
    sys.stdout.flush()


def _sweep(model, spec, baseline, test_file, out_dir, common):
    """`--checkpoints`: the run's checkpoints, final/ and baseline on its split, each published as
    soon as it is scored; then the table and accuracy_vs_step.png."""
    from .sweep import Point, plot_sweep, score_point, sweep_points, sweep_table, training_curves
    from .targets import EvalError, embedded_run, resolve_target

    try:
        target = resolve_target(model or embedded_run())
        if target.run_dir is None:
            raise EvalError(f"--checkpoints needs a run directory (with run.json), not {model}")
        run_dir = target.run_dir
        points = sweep_points(run_dir, spec)
        split = test_file or target.test_file
        if split and not Path(split).is_file():
            raise EvalError(f"the test split {split} is missing: recreate it with `python cli.py data` "
                            "or pass --test-file")
        base_spec = baseline or target.baseline
        if base_spec:
            points.insert(0, Point("baseline", None, resolve_target(base_spec).model))
    except UserError as e:
        raise click.ClickException(str(e)) from None

    out = Path(out_dir) if out_dir else run_dir / EVAL / SWEEP
    results = []
    try:
        with InterruptLatch() as latch:
            for i, p in enumerate(points, 1):
                _say(f"[{i}/{len(points)}] {p.name} ({common['backend']} backend)")
                run, cached = score_point(p, split, common, out)
                results.append(run.summary)
                _say(_progress(i, len(points), p.name, run.summary, cached))
                latch.check()  # a Ctrl-C swallowed during the point (common/interrupts.py)
    except KeyboardInterrupt:
        _interrupted(len(results), len(points), "points", out)
    except UserError as e:
        raise click.ClickException(str(e)) from None

    base = results[0] if points[0].name == "baseline" else None
    rows = [r for r, p in zip(results, points) if p.name != "baseline"]
    curves = training_curves(run_dir)
    table = sweep_table(rows, base, dict(curves["val"]))
    plot_sweep(rows, base, curves, out / ACCURACY_VS_STEP, f"{run_dir.name}: accuracy by step")
    (out / "sweep.md").write_text(f"# {run_dir.name}: every checkpoint on `{rows[0]['test_split']}`\n\n"
                                  + table + "\n", encoding="utf-8")
    keys = ("label", "step", "correct", "total", "accuracy", "stderr", "format_rate", "test_split")
    (out / "sweep.json").write_text(json.dumps(
        {"run": str(run_dir), "baseline": None if base is None else {k: base.get(k) for k in keys},
         "points": [{k: r.get(k) for k in keys} for r in rows], "val_accuracy": curves["val"],
         "train_accuracy": curves["train"]}, indent=2) + "\n", encoding="utf-8")
    click.echo(table)
    click.echo(f"\nwrote {out}/: accuracy_vs_step.png, sweep.md, sweep.json, and one folder per point")
