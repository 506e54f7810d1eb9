"""The comparison a user reads: the reference's table (model | correct/N | accuracy ± stderr |
format rate), the difference between model and baseline, the breakdowns by number count, by
difficulty (operators needed, number of solutions) and by verdict reason, and a bar chart of
accuracy by model. The tables themselves are common/result_tables.py's, so the run's model card
and the demo's Run tab show them as this report does.

    python cli.py evaluate        # prints this table and writes eval/report.md + eval/accuracy.png
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from common.result_tables import breakdown_tables, difference, main_table, pairwise_table
from common.run_dir import SUMMARY

__all__ = ["bar_chart", "breakdown_tables", "difference", "main_table", "markdown_report", "pairwise_table",
           "write_evaluation"]


def markdown_report(summaries: list[dict], baseline: dict | None, model: dict | None,
                    pairs: list[dict] | None = None) -> str:
    s0 = summaries[0]
    head = [f"# Countdown evaluation ({s0['backend']} backend)", "",
            f"Held-out split: `{s0['test_split']}` ({s0['total']} tasks"
            + (f" of {s0['test_size']}, --limit {s0['limit']}" if s0.get("limit") else "") + "). "
            + ("Greedy decoding" if not s0["num_samples"] > 1 and not s0["temperature"]
               else f"{s0['num_samples']} samples at temperature {s0['temperature']}")
            + f", at most {s0['max_gen_toks']} new tokens. Scored by `tasks.countdown.verify`"
            + "".join(f"; sympy re-evaluated {s['sympy_checked']} of {s['label']}'s equations and agreed on all"
                      for s in summaries if s.get("sympy_checked")) + ".", ""]
    body = [main_table(summaries), ""]
    if baseline is not None and model is not None:
        body += [difference(baseline, model), ""]
    if pairs:
        body += [pairwise_table(pairs), ""]
    body += ["## Breakdown", "", breakdown_tables(summaries, baseline), ""]
    return "\n".join(head + body)


def bar_chart(summaries: list[dict], path: Path) -> None:
    """Accuracy by model with ±1 stderr bars (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [s["label"] for s in summaries]
    acc = [100 * (s["accuracy"] or 0) for s in summaries]
    err = [100 * (s["stderr"] or 0) for s in summaries]
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(labels), 3.6))
    bars = ax.bar(range(len(labels)), acc, yerr=err, capsize=6, color=(["#9aa5b1", "#2f7ed8"] + [f"C{i}" for i in range(2, len(labels))])[: len(labels)])
    for b, s in zip(bars, summaries):
        ax.annotate(f"{s['correct']}/{s['total']}", (b.get_x() + b.get_width() / 2, b.get_height()),
                    ha="center", va="bottom", xytext=(0, 3), textcoords="offset points")
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, max(10.0, max(a + e for a, e in zip(acc, err)) * 1.25))
    ax.set_title("Countdown held-out accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_evaluation(out: Path, runs: list, pairs: list[dict]) -> None:
    """What `cli.py evaluate` leaves in `out` (a run's eval/) for a model and its baseline: per role
    (`runs`: ("model" | "baseline", EvalRun) pairs) lm-eval's results.json, samples.jsonl and the
    model's summary.json; report.md, accuracy.png and the combined summary.json (model, baseline, and
    the difference with its paired comparison, `pairs[0]`). Staged, then published at once, so a
    run that died half-way never leaves a result that looks complete."""
    from .runner import publish, stage_model_outputs, staging_dir

    summaries = [r.summary for _, r in runs]
    by_role = dict(runs)
    base_s = by_role["baseline"].summary if "baseline" in by_role else None
    model_s = by_role["model"].summary
    staging = staging_dir(out)
    try:
        for role, run in runs:
            stage_model_outputs(run, staging / role)
        (staging / "report.md").write_text(markdown_report(summaries, base_s, model_s, pairs), encoding="utf-8")
        bar_chart(summaries, staging / "accuracy.png")
        combined = {"model": model_s, "baseline": base_s,
                    "difference": None if base_s is None else {
                        "correct": model_s["correct"] - base_s["correct"],
                        "accuracy": (model_s["accuracy"] or 0) - (base_s["accuracy"] or 0),
                        "paired": {k: v for k, v in pairs[0].items() if k not in ("a", "b")}}}
        (staging / SUMMARY).write_text(json.dumps(combined, indent=2) + "\n", encoding="utf-8")
        for stale in {"model", "baseline"} - {role for role, _ in runs}:  # a previous run's, now misleading
            shutil.rmtree(out / stale, ignore_errors=True)
        publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
