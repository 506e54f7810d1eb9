"""The tables a run's scores are read in, as markdown: the reference's table (model |
correct/N | accuracy ± stderr | format rate), the difference between model and baseline, the
paired comparison on the same tasks, the breakdowns by number count, by difficulty (operators
needed, number of solutions) and by verdict reason, and the end-of-run table. Rendered from the
numbers `cli.py evaluate` and `cli.py train` wrote; nothing here scores or recounts anything.

One place for them, because three readers show them: `cli.py evaluate`'s report
(evaluation/report.py), the run's model card (evaluation/model_card.py) and the demo's Run tab
(serve/run_tab.py), which read the same files through common/run_results.py.
"""

from __future__ import annotations


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


# (summary key, column heading): number count, then the solver's difficulty (tasks.countdown.difficulty),
# then number count and operators together (where a model's gains are: 3-number tasks that + and - solve)
BREAKDOWNS = (("by_numbers", "{} numbers"), ("by_operators", "{}"), ("by_solutions", "{}"),
              ("by_numbers_operators", "{}"))


def numbers_operators(n_numbers, operators: str) -> str:
    """The bucket of `by_numbers_operators`.

    >>> numbers_operators(3, "+/- only")
    '3 numbers, +/- only'
    """
    return f"{n_numbers} numbers, {operators}"


def bucket_names(summaries: list[dict], key: str) -> list[str]:
    """The buckets of breakdown `key` any of the summaries has, in column order (counts as numbers).

    >>> bucket_names([{"by_numbers": {"4": {}, "3": {}}}, {"by_numbers": {"10": {}}}], "by_numbers")
    ['3', '4', '10']
    """
    return sorted({n for s in summaries for n in s.get(key, {})},
                  key=lambda n: (not n.isdigit(), int(n) if n.isdigit() else 0, n))


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
    names = bucket_names(summaries, key)
    lines = ["| model | " + " | ".join(heading.format(n) for n in names) + " |", "|---|" + "---:|" * len(names)]
    for s in summaries:
        cells = []
        for n in names:
            b = s.get(key, {}).get(n)
            cells.append("–" if b is None else f"{b['correct']}/{b['total']} ({pct(b['accuracy'])})" + (
                f"; pass@1 {pct(b['pass_at_1'])}, pass@{b['k']} {pct(b['pass_at_k'])}" if "k" in b else ""))
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
    """Accuracy by number count and by difficulty (with the change against the baseline), how many
    answers failed for each verdict reason, and how many think-block steps are right."""
    parts = [bucket_table(summaries, key, heading, baseline) for key, heading in BREAKDOWNS
             if any(s.get(key) for s in summaries)]
    lines = "\n\n".join(parts).splitlines()
    reasons = sorted({r for s in summaries for r in s["by_reason"]},
                     key=lambda r: (r != "ok", -sum(s["by_reason"].get(r, 0) for s in summaries)))
    lines += ["", "| verdict reason | " + " | ".join(s["label"] for s in summaries) + " |",
              "|---|" + "---:|" * len(summaries)]
    for r in reasons:
        lines.append(f"| {r} | " + " | ".join(str(s["by_reason"].get(r, 0)) for s in summaries) + " |")
    if any((s.get("think_steps") or {}).get("written") for s in summaries):  # no table of dashes
        lines += ["", "| think block: `a op b = c` steps right | " + " | ".join(s["label"] for s in summaries) + " |",
                  "|---|" + "---:|" * len(summaries)]
        for row, suffix in (("all answers", ""), ("solved tasks", "_in_solved")):
            lines.append(f"| {row} | " + " | ".join(_steps_cell(s.get("think_steps"), suffix) for s in summaries) + " |")
    return "\n".join(lines)


def _steps_cell(t: dict | None, suffix: str) -> str:
    if not t or not t[f"written{suffix}"]:
        return "–"
    right, written = t[f"right{suffix}"], t[f"written{suffix}"]
    return f"{pct(right / written)} ({right:,}/{written:,})"


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


def end_of_run_table(test: dict) -> list[str]:
    """summary.json's `test` table (`cli.py train` scores it at the end of a run) as markdown lines.

    >>> t = {"baseline": {"correct": 8, "total": 500, "accuracy": 0.016},
    ...      "trained": {"correct": 72, "total": 500, "accuracy": 0.144}, "gain_points": 12.8}
    >>> for line in end_of_run_table(t):
    ...     print(line)
    | model | correct/total | accuracy |
    |---|---:|---:|
    | baseline | 8/500 | 1.6% |
    | trained (final) | 72/500 | 14.4% |
    <BLANKLINE>
    GRPO gain: +12.8 points.
    """
    rows = [("baseline", test["baseline"]), ("trained (final)", test["trained"])]
    return ["| model | correct/total | accuracy |", "|---|---:|---:|",
            *(f"| {name} | {r['correct']}/{r['total']} | {100 * r['accuracy']:.1f}% |" for name, r in rows),
            "", f"GRPO gain: {test['gain_points']:+.1f} points."]
