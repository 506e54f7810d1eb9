"""Scoring a list of models, each published and cached as soon as it is scored; used for every kept
checkpoint of a run on its test split: test accuracy against the step, beside the
validation and training accuracy the run logged, because the training reward can rise while
held-out accuracy falls.

    python cli.py evaluate --model runs/NAME --checkpoints all        # or --checkpoints 100,200,final

Each point is published to RUN/eval/sweep/NAME/ as soon as it is scored, with the settings it was
scored under; a later sweep with the same settings (backend, budget, sampling, split contents,
the checkpoint's weights) reads it back instead of scoring again, so an interrupted sweep
continues where it stopped and adding checkpoints costs only the new ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from common.run_dir import (FINAL, RUN_JSON, SAMPLES, SUMMARY, WEIGHT_FILES, loadable_checkpoints,
                            read_json_or_empty)
from common.run_results import read_metrics
from tasks.countdown.data import split_sha256

from .runner import EvalRun, run_model, write_model_outputs
from .targets import EvalError

SETTINGS = ("backend", "limit", "num_samples", "temperature", "max_gen_toks", "batch_size", "dtype", "max_model_len")


@dataclass
class Point:
    name: str  # folder name under eval/sweep: checkpoint-N, final, baseline
    step: int | None  # GRPO step (None: the baseline)
    path: str  # the model to load


def sweep_points(run_dir: Path, spec: str) -> list[Point]:
    """The checkpoints `spec` names ("all", or steps and "final" separated by commas), by step."""
    kept = {step: path for step, path in loadable_checkpoints(run_dir)}
    run = read_json_or_empty(run_dir / RUN_JSON)
    final = run_dir / FINAL
    final_step = None
    if (final / "config.json").is_file():
        src = str(run.get("final_from") or "")
        final_step = int(src.split("-")[1]) if src.startswith("checkpoint-") and src.split("-")[1].isdigit() \
            else run.get("global_step")
    wanted = [w.strip() for w in spec.split(",") if w.strip()]
    if wanted == ["all"]:
        points = [Point(f"checkpoint-{s}", s, str(p)) for s, p in sorted(kept.items())]
        if final_step is not None:
            points.append(Point("final", final_step, str(final)))
        if not points:
            raise EvalError(f"run {run_dir} has no kept checkpoints (checkpoint-N/ or final/) to sweep")
        return _by_step(points)
    points = []
    for w in wanted:
        if w == "final":
            if final_step is None:
                raise EvalError(f"run {run_dir} has no final/ model")
            points.append(Point("final", final_step, str(final)))
        elif w.isdigit() and int(w) in kept:
            points.append(Point(f"checkpoint-{int(w)}", int(w), str(kept[int(w)])))
        else:
            have = ", ".join(str(s) for s in sorted(kept)) or "none"
            raise EvalError(f"--checkpoints {w!r}: no such kept checkpoint in {run_dir} (kept steps: {have}; "
                            "or 'final', or 'all')")
    return _by_step(points)


def _by_step(points: list[Point]) -> list[Point]:
    return sorted(points, key=lambda p: (p.step or 0, p.name == "final"))


def _weights_id(model: str) -> str:
    """Size and mtime of the weight files: a checkpoint rewritten by a resumed run is a new model."""
    parts = []
    for f in WEIGHT_FILES:
        p = Path(model) / f
        if p.is_file():
            st = p.stat()
            parts.append(f"{f}:{st.st_size}:{st.st_mtime_ns}")
    return ";".join(parts) or model


def settings_key(model: str, split: str | None, options: dict) -> dict:
    digest = split_sha256(split) if split and Path(split).is_file() else split
    return {**{k: options.get(k) for k in SETTINGS}, "split_sha256": digest, "weights": _weights_id(model)}


def _read_samples(folder: Path) -> list[dict] | None:
    try:
        return [json.loads(x) for x in (folder / SAMPLES).read_text(encoding="utf-8").splitlines()]
    except (OSError, json.JSONDecodeError):
        return None


def score_point(point: Point, split: str | None, options: dict, out: Path, label: str | None = None
                ) -> tuple[EvalRun, bool]:
    """(the scored run, read from cache?) of one point, publishing a fresh result to out/NAME/ at once."""
    folder = out / point.name
    key = settings_key(point.path, split, options)
    cached = read_json_or_empty(folder / SUMMARY)
    if cached.get("sweep_settings") == key:
        samples = _read_samples(folder)
        if samples is not None:
            return EvalRun(summary=cached, results={}, samples=samples), True
    run = run_model(point.path, test_file=split, **options)
    run.summary.update(label=label or point.name, step=point.step, sweep_settings=key)
    write_model_outputs(run, folder)
    return run, False


def training_curves(run_dir: Path) -> dict:
    """Validation and training accuracy per step from the run's metrics.jsonl."""
    val, train = [], []
    for r in read_metrics(run_dir):
        if "val_accuracy" in r:
            val.append((r["step"], r["val_accuracy"]))
        if "accuracy" in r and "reward" in r:
            train.append((r["step"], r["accuracy"]))
    return {"val": val, "train": train}


def sweep_table(rows: list[dict], baseline: dict | None, val: dict[int, float]) -> str:
    """step | checkpoint | correct/N | test accuracy ± stderr | val accuracy."""
    from common.result_tables import acc_cell, pct

    lines = ["| step | model | correct/total | test accuracy ± stderr | val accuracy |", "|---:|---|---:|---:|---:|"]
    if baseline:
        lines.append(f"| – | baseline | {baseline['correct']}/{baseline['total']} | {acc_cell(baseline)} | – |")
    for r in rows:
        lines.append(f"| {r['step']} | {r['label']} | {r['correct']}/{r['total']} | {acc_cell(r)} | "
                     f"{pct(val.get(r['step']))} |")
    return "\n".join(lines)


def plot_sweep(rows: list[dict], baseline: dict | None, curves: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    ckpts = [r for r in rows if r["label"] != "final"]
    if ckpts:
        ax.errorbar([r["step"] for r in ckpts], [100 * r["accuracy"] for r in ckpts],
                    yerr=[100 * (r["stderr"] or 0) for r in ckpts], fmt="o-", capsize=4, color="#2f7ed8",
                    label="test accuracy (± stderr)")
    for r in rows:
        if r["label"] == "final":
            ax.errorbar([r["step"]], [100 * r["accuracy"]], yerr=[100 * (r["stderr"] or 0)], fmt="*", ms=14,
                        capsize=4, color="#d8432f", label="final/ (test)")
    if baseline:
        ax.axhline(100 * baseline["accuracy"], ls="--", color="#9aa5b1", label="baseline (test)")
    if curves["val"]:
        ax.plot(*zip(*[(s, 100 * a) for s, a in curves["val"]]), "s:", color="black", ms=4, label="val accuracy")
    if curves["train"]:
        ax.plot(*zip(*[(s, 100 * a) for s, a in curves["train"]]), alpha=0.4, color="#2a9d3f",
                label="train accuracy (sampled)")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers, even with few points
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
