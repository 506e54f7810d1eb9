"""Two models on the same tasks, compared task by task.

The models of one table are scored on the same tasks, so their accuracies are not independent:
the standard error of their difference comes from the per-task differences (paired), and whether
the difference is more than chance is McNemar's exact test on the tasks only one of them solves.
Both need nothing but the two lists of verdicts, in task order.

    >>> p = paired([True, False, False, False], [True, True, True, False])
    >>> p["only_a"], p["only_b"], p["difference_tasks"], round(p["p_value"], 3)
    (0, 2, 2, 0.5)
"""

from __future__ import annotations

from math import comb, sqrt


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: the discordant tasks as a fair coin's flips."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired(ok_a: list[bool], ok_b: list[bool]) -> dict:
    """B minus A on the same tasks: the difference in tasks and accuracy, its paired standard error,
    the discordant counts and McNemar's exact p-value."""
    if len(ok_a) != len(ok_b) or not ok_a:
        raise ValueError(f"paired comparison needs the same tasks: {len(ok_a)} vs {len(ok_b)} verdicts")
    n = len(ok_a)
    d = [int(b) - int(a) for a, b in zip(ok_a, ok_b)]
    mean = sum(d) / n
    se = sqrt(sum((x - mean) ** 2 for x in d) / (n - 1) / n) if n > 1 else None
    only_a, only_b = d.count(-1), d.count(1)
    return {"tasks": n, "difference_tasks": only_b - only_a, "difference": mean, "paired_stderr": se,
            "only_a": only_a, "only_b": only_b, "p_value": mcnemar_exact(only_a, only_b)}
