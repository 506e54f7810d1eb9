"""The exact solver: ground truth for the verifier and the data generator.

    .venv/bin/python -m pytest -q tests/tasks/countdown/test_solver.py
"""

from __future__ import annotations

import itertools
import re
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.countdown import is_solvable, solve, verify_equation
from tasks.countdown.solver import reachable_integers


OPERAND = r"[0-9]+|\(-?[0-9]+(?:/[0-9]+)?\)"


@pytest.mark.parametrize(
    "numbers,target",
    [([19, 36, 55, 7], 65), ([1, 2, 3], 1), ([44, 19, 35], 98), ([3, 3, 8, 8], 24), ([5, 5, 5, 1], 24), ([7, 7], 1)],
)
def test_solutions_verify_and_steps_add_up(numbers, target):
    solution = solve(numbers, target)
    assert solution is not None
    assert verify_equation(solution.expression, numbers, target).ok
    # Each step is one correct binary operation, and the last one reaches the target.
    assert len(solution.steps) == len(numbers) - 1
    for step in solution.steps:
        lhs, rhs = step.split("=")
        # An operand is a plain integer or a bracketed negative/fraction: "48-(-17)", "8/(1/3)".
        m = re.fullmatch(rf"({OPERAND})([-+*/])({OPERAND})", lhs)
        assert m, step
        a, op, b = (g.strip("()") for g in m.groups())
        x, y = Fraction(a), Fraction(b)
        assert {"+": x + y, "-": x - y, "*": x * y, "/": x / y}[op] == Fraction(rhs)
    assert Fraction(solution.steps[-1].split("=")[1]) == target


def test_rational_solutions_need_fractions():
    # 3 3 8 8 -> 24 only via 8/(3-8/3): the rational search finds it, the integer rule cannot.
    solution = solve([3, 3, 8, 8], 24)
    assert solution.expression == "8/(3-(8/3))"
    # Fraction and negative operands are bracketed in the steps (traces must read unambiguously).
    assert solution.steps == ("8/3=8/3", "3-(8/3)=1/3", "8/(1/3)=24")
    assert solve([3, 3, 8, 8], 24, integer_only=True) is None
    assert 24 not in reachable_integers((3, 3, 8, 8))


@pytest.mark.parametrize("numbers,target", [([1, 1, 1], 100), ([2], 3), ([1, 1], 3), ([100, 100, 100, 100], 7)])
def test_unsolvable(numbers, target):
    assert solve(numbers, target) is None
    assert not is_solvable(numbers, target)


def test_integer_only_steps_are_non_negative_integers():
    solution = solve([19, 36, 55, 7], 65, integer_only=True)
    for step in solution.steps:
        assert re.fullmatch(r"[0-9]+[-+*/][0-9]+=[0-9]+", step), step
    assert verify_equation(solution.expression, [19, 36, 55, 7], 65).ok


def brute_force_integers(numbers):
    """Every integer-rule value over all orders and pairings (slow, independent reference)."""
    if len(numbers) == 1:
        return {numbers[0]}
    out = set()
    for i, j in itertools.combinations(range(len(numbers)), 2):
        rest = [n for k, n in enumerate(numbers) if k not in (i, j)]
        a, b = numbers[i], numbers[j]
        hi, lo = max(a, b), min(a, b)
        vals = {a + b, a * b, hi - lo} | ({hi // lo} if lo and hi % lo == 0 else set())
        for v in vals:
            out |= brute_force_integers(rest + [v])
    return out


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=2, max_size=4), st.integers(1, 120))
def test_reachable_integers_matches_brute_force_and_solver(numbers, target):
    reach = reachable_integers(tuple(sorted(numbers)))
    assert reach == brute_force_integers(numbers)
    assert (target in reach) == is_solvable(numbers, target, integer_only=True)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=2, max_size=4), st.integers(1, 120))
def test_all_solutions_verify_and_exist_exactly_when_the_integer_rule_reaches_the_target(numbers, target):
    from tasks.countdown.solver import all_solutions

    sols = all_solutions(numbers, target)
    assert bool(sols) == (target in reachable_integers(tuple(sorted(numbers))))
    assert len({(s.steps, s.expression) for s in sols}) == len(sols)
    for s in sols:
        assert verify_equation(s.expression, numbers, target).ok, s
        assert len(s.steps) == len(numbers) - 1 and int(s.steps[-1].split("=")[1]) == target
        for step in s.steps:
            assert re.fullmatch(r"[0-9]+[-+*/][0-9]+=[0-9]+", step), step
