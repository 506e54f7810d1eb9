"""tasks/countdown/difficulty.py: the operators a task needs and how many solutions it has, from the solver."""

from __future__ import annotations

import itertools
import random

from tasks.countdown.data import default_test_tasks
from tasks.countdown.difficulty import FEW, MANY, NEEDS_MUL_DIV, NOT_ANALYSED, PLUS_MINUS_ONLY, difficulty


def reachable_with_signs(nums, target) -> bool:
    """Oracle without the solver: + and - alone reach the target iff some signs give it (a positive
    target can always be reached adding first, so the integer rule never blocks it)."""
    return any(sum(s * n for s, n in zip(signs, nums)) == target
               for signs in itertools.product((1, -1), repeat=len(nums)) if 1 in signs)


def test_operators_match_the_sign_oracle_on_the_default_test_tasks():
    rows = default_test_tasks()[:200]
    kinds = [difficulty(r["nums"], r["target"])["operators"] for r in rows]
    for r, k in zip(rows, kinds):
        assert (k == PLUS_MINUS_ONLY) == reachable_with_signs(r["nums"], r["target"]), r
    assert {PLUS_MINUS_ONLY, NEEDS_MUL_DIV} == set(kinds)  # both kinds are common


def test_solution_counts():
    assert difficulty([68, 21, 8], 100) == {"operators": NEEDS_MUL_DIV, "solutions": FEW}  # only (21*8)-68
    assert difficulty([19, 36, 55, 7], 65)["solutions"] == MANY
    assert difficulty([1, 2], 10)["solutions"] == "no integer-rule solution"


def test_six_numbers_are_not_enumerated(monkeypatch):
    """Listing every solution of 6+ numbers takes minutes to hours: a user's split with such tasks
    must not stall the report."""
    from tasks.countdown import difficulty as module

    def refuse(*a):
        raise AssertionError("all_solutions called on 6+ numbers")

    monkeypatch.setattr(module, "all_solutions", refuse)
    rng = random.Random(0)
    assert difficulty([rng.randint(1, 99) for _ in range(6)], 500) == {"operators": NOT_ANALYSED,
                                                                        "solutions": NOT_ANALYSED}
