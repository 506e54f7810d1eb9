"""Several models in one table: one test split for all of them, and every pair compared task by task.

`cli.py evaluate --model A --model B …` scores each model with `runner.run_model` on one split,
then pairs them here (`paired.paired`: B minus A with its paired standard error and McNemar's
exact test), because two accuracies measured on the same tasks are not independent.
"""

from __future__ import annotations

from itertools import combinations

from tasks.countdown.data import split_sha256

from .paired import paired
from .targets import EvalError, Target


def _digest(path: str) -> str:
    try:
        return split_sha256(path)
    except OSError as e:
        raise EvalError(f"test split {path}: {e.strerror or e}") from None


def common_split(targets: list[Target], test_file: str | None) -> str | None:
    """The one split every model is scored on: --test-file, else the runs' own split, which must
    be the same tasks for every run that has one (hub ids and bare model dirs take it too)."""
    if test_file:
        return test_file
    own = [(t.label, t.test_file) for t in targets if t.test_file]
    digests = {f: _digest(f) for _, f in own}  # once per file, not once per pair
    for (la, fa), (lb, fb) in combinations(own, 2):
        if digests[fa] != digests[fb]:
            raise EvalError(f"{la} and {lb} were trained with different test splits ({fa}, {fb}): "
                            "pass --test-file to score every model on one split")
    return own[0][1] if own else None


def unique_labels(labels: list[str]) -> list[str]:
    """The labels, with ' #2', ' #3' … added to repeats (the same model listed twice stays two rows)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def pair_runs(runs) -> list[dict]:
    """Every pair (A listed before B) of scored runs: B minus A on the same tasks."""
    pairs = []
    for a, b in combinations(runs, 2):
        tasks_a = [(r["nums"], r["target"]) for r in a.samples]
        if tasks_a != [(r["nums"], r["target"]) for r in b.samples]:
            raise EvalError(f"{a.summary['label']} and {b.summary['label']} were scored on different tasks")
        pairs.append({"a": a.summary["label"], "b": b.summary["label"],
                      **paired([r["ok"] for r in a.samples], [r["ok"] for r in b.samples])})
    return pairs
