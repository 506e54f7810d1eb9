"""tasks/countdown/sympy_check.py: sympy's exact value of every valued equation, built from the
`ast` tree (never `sympify`), and a loud stop when it and the verifier disagree."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from tasks.countdown import lm_eval_hooks
from tasks.countdown.solver import solve
from tasks.countdown.sympy_check import ScorerDisagreement, agrees, sympy_value
from tasks.countdown.verifier import Verdict, verify_equation

pytest.importorskip("sympy")


def test_agrees_with_the_verifier_on_solver_answers_and_near_misses():
    rng = random.Random(7)
    checked = 0
    for _ in range(150):
        nums = [rng.randint(1, 99) for _ in range(rng.choice([3, 4]))]
        target = rng.randint(1, 150)
        sol = solve(nums, target)
        equations = [sol.expression] if sol else []
        ops = [rng.choice("+-*/") for _ in nums[1:]]  # any valued equation, right or wrong
        equations.append("".join(f"{n}{op}" for n, op in zip(nums, ops)) + str(nums[-1]))
        equations.append(f"({nums[0]} - {nums[1]}) / ({nums[2]} * 7)")
        for eq in equations:
            v = verify_equation(eq, nums, target)
            if v.value is not None:
                assert agrees(v) is True, eq
                checked += 1
    assert checked > 300


def test_exact_rationals_and_operator_order():
    import sympy

    assert sympy_value("1 / 3 + 1 / 6") == sympy.Rational(1, 2)
    assert sympy_value("10 - 4 - 3") == 3       # left-associative
    assert sympy_value("2 + 3 * 4") == 14
    assert sympy_value("100 / 7 / 2") == sympy.Rational(50, 7)


def test_a_wrong_verifier_value_stops_the_scoring():
    wrong = Verdict(False, "wrong_value", Fraction(65) + Fraction(1, 1_000_000), "55+36-7-19")
    with pytest.raises(ScorerDisagreement, match="sympy at 65"):
        agrees(wrong)


def test_nothing_to_compare_without_a_value():
    assert agrees(verify_equation("55+", [19, 36, 55, 7], 65)) is None
    assert agrees(verify_equation("55/(36-36)+7+19", [19, 36, 55, 7, 36], 65)) is None  # division by zero


def test_never_hands_model_text_to_sympify(monkeypatch):
    import sympy

    def refuse(*a, **k):
        raise AssertionError("sympify/parse_expr called on model output")

    monkeypatch.setattr(sympy, "sympify", refuse)
    monkeypatch.setattr(sympy.parsing.sympy_parser, "parse_expr", refuse)
    assert sympy_value("(55 + 36) - (7 + 19)") == 65


def test_a_node_outside_the_whitelist_is_a_disagreement():
    with pytest.raises(ScorerDisagreement):
        sympy_value("2 ** 3")


def test_the_lm_eval_task_stops_on_a_disagreement(monkeypatch):
    """What lm-eval's `process_results` does when the verifier is wrong: it raises (the evaluation
    stops with the reason) instead of averaging a wrong verdict into `acc`."""
    doc = {"nums": [19, 36, 55, 7], "target": 65}
    completion = "ok</think><answer>55+36-7-19</answer>"
    assert lm_eval_hooks.process_results(doc, [completion])["sympy_agree"] == (1, 1)
    monkeypatch.setattr(lm_eval_hooks, "verify",
                        lambda text, nums, target: Verdict(True, "ok", Fraction(64), "55+36-7-19"))
    with pytest.raises(ScorerDisagreement):
        lm_eval_hooks.process_results(doc, [completion])


def test_agreement_is_a_share_of_the_valued_equations():
    assert lm_eval_hooks.agreement([(1, 1), (2, 2), (0, 0)]) == 1.0
    assert lm_eval_hooks.agreement([(1, 0), (1, 1)]) == 0.5
    assert lm_eval_hooks.agreement([(0, 0)]) != lm_eval_hooks.agreement([(0, 0)])  # NaN: nothing was valued
