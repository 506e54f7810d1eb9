"""The comparison a user reads: the reference's table (model | correct/N | accuracy ± stderr |
format rate), the difference between model and baseline, the breakdowns by number count, by
difficulty (operators needed, number of solutions) and by verdict reason, and a bar chart of
accuracy by model.

    python cli.py evaluate        # prints this table and writes eval/report.md + eval/accuracy.png
"""

from __future__ import annotations

from pathlib import Path


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def acc_cell(s: dict) -> str:
    return pct(s["accuracy"]) + ("" if s.get("stderr") is None else f" ± {100 * s['stderr']:.1f}")


def main_table(summaries: list[dict]) -> str:
    """The reference's table, one row per model (pass@k / maj@k columns when sampling k > 1).

    >>> print(main_table([{"label": "base", "correct": 8, "total": 500, "accuracy": 0.016,
    ...                    "stderr": 0.0056, "format_rate": 0.5, "num_samples": 1}]))
    | model | correct/500 | accuracy ± stderr | format rate |
    |---|---:|---:|---:|
    | base | 8/500 | 1.6% ± 0.6 | 50.0% |
    """
    total = summaries[0]["total"]
    k = max(s.get("num_samples", 1) for s in summaries)
    extra = f" pass@{k} | maj@{k} |" if k > 1 else ""
    lines = [f"| model | correct/{total} | accuracy ± stderr | format rate |{extra}",
             "|---|---:|---:|---:|" + ("---:|---:|" if k > 1 else "")]
    for s in summaries:
        cells = [s["label"], f"{s['correct']}/{s['total']}", acc_cell(s), pct(s.get("format_rate"))]
        if k > 1:
            cells += [pct(s.get("pass_at_k")), pct(s.get("maj_at_k"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def difference(baseline: dict, model: dict) -> str:
    """Model minus baseline, in tasks and points, with the combined standard error.

    >>> difference({"correct": 8, "total": 500, "accuracy": 0.016, "stderr": 0.0056},
    ...            {"correct": 72, "total": 500, "accuracy": 0.144, "stderr": 0.0157})
    'difference: +64 tasks, +12.8 points (± 1.7)'
    """
    d_tasks = model["correct"] - baseline["correct"]
    d_acc = (model["accuracy"] or 0) - (baseline["accuracy"] or 0)
    se = None
    if model.get("stderr") is not None and baseline.get("stderr") is not None:
        se = (model["stderr"] ** 2 + baseline["stderr"] ** 2) ** 0.5
    return f"difference: {d_tasks:+d} tasks, {100 * d_acc:+.1f} points" + ("" if se is None else f" (± {100 * se:.1f})")


# (summary key, column heading): number count, then the solver's difficulty (tasks.countdown.difficulty)
BREAKDOWNS = (("by_numbers", "{} numbers"), ("by_operators", "{}"), ("by_solutions", "{}"))


def bucket_table(summaries: list[dict], key: str, heading: str, baseline: dict | None = None) -> str:
    """One breakdown: correct/total (accuracy) per bucket and model, then each model's change
    against the baseline in points (and tasks).

    >>> b = {"label": "base", "by_operators": {"+/- only": {"correct": 1, "total": 4, "accuracy": 0.25}}}
    >>> m = {"label": "run", "by_operators": {"+/- only": {"correct": 3, "total": 4, "accuracy": 0.75}}}
    >>> print(bucket_table([b, m], "by_operators", "{}", baseline=b))
    | model | +/- only |
    |---|---:|
    | base | 1/4 (25.0%) |
    | run | 3/4 (75.0%) |
    | run − base | +50.0 points (+2) |
    """
    names = sorted({n for s in summaries for n in s.get(key, {})}, key=lambda n: (not n.isdigit(), int(n) if
                                                                                 n.isdigit() else 0, n))
    lines = ["| model | " + " | ".join(heading.format(n) for n in names) + " |", "|---|" + "---:|" * len(names)]
    for s in summaries:
        cells = []
        for n in names:
            b = s.get(key, {}).get(n)
            cells.append("–" if b is None else f"{b['correct']}/{b['total']} ({pct(b['accuracy'])})")
        lines.append(f"| {s['label']} | " + " | ".join(cells) + " |")
    for s in summaries if baseline is not None else []:
        if s is baseline:
            continue
        cells = []
        for n in names:
            b, m = baseline.get(key, {}).get(n), s.get(key, {}).get(n)
            cells.append("–" if b is None or m is None else
                         f"{100 * (m['accuracy'] - b['accuracy']):+.1f} points ({m['correct'] - b['correct']:+d})")
        lines.append(f"| {s['label']} − {baseline['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def breakdown_tables(summaries: list[dict], baseline: dict | None = None) -> str:
    """Accuracy by number count and by difficulty (with the change against the baseline), and how
    many answers failed for each verdict reason."""
    parts = [bucket_table(summaries, key, heading, baseline) for key, heading in BREAKDOWNS
             if any(s.get(key) for s in summaries)]
    lines = "\n\n".join(parts).splitlines()
    reasons = sorted({r for s in summaries for r in s["by_reason"]},
                     key=lambda r: (r != "ok", -sum(s["by_reason"].get(r, 0) for s in summaries)))
    lines += ["", "| verdict reason | " + " | ".join(s["label"] for s in summaries) + " |",
              "|---|" + "---:|" * len(summaries)]
    for r in reasons:
        lines.append(f"| {r} | " + " | ".join(str(s["by_reason"].get(r, 0)) for s in summaries) + " |")
    return "\n".join(lines)


def p_text(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def pairwise_table(pairs: list[dict]) -> str:
    """Each pair of models on the same tasks: B minus A, its paired standard error, the tasks only
    one of them solves and McNemar's exact p-value (evaluation/paired.py).

    >>> print(pairwise_table([{"a": "base", "b": "run", "difference_tasks": 64, "difference": 0.128,
    ...                        "paired_stderr": 0.0155, "only_a": 1, "only_b": 65, "p_value": 1e-18}]))
    | comparison (same tasks) | Δ tasks | Δ accuracy ± paired stderr | solved by one only (A / B) | McNemar p |
    |---|---:|---:|---:|---:|
    | run − base | +64 | +12.8 points ± 1.6 | 1 / 65 | <0.001 |
    """
    lines = ["| comparison (same tasks) | Δ tasks | Δ accuracy ± paired stderr | solved by one only (A / B) | McNemar p |",
             "|---|---:|---:|---:|---:|"]
    for q in pairs:
        se = "" if q["paired_stderr"] is None else f" ± {100 * q['paired_stderr']:.1f}"
        lines.append(f"| {q['b']} − {q['a']} | {q['difference_tasks']:+d} | {100 * q['difference']:+.1f} points{se} "
                     f"| {q['only_a']} / {q['only_b']} | {p_text(q['p_value'])} |")
    return "\n".join(lines)


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
