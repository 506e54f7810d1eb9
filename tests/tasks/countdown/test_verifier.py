"""The verifier against hostile model output, the solver (ground truth) and sympy (exact values).

    .venv/bin/python -m pytest -q tests/tasks/countdown/test_verifier.py

Every bad input must come back as a verdict (never an exception) in milliseconds. The timing
bound (50 ms) is a hang detector, not a speed target: benchmarks/verifier.py measures speed.
"""

from __future__ import annotations

import builtins
import json
import random
import re
import time
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.countdown import REASONS, Verdict, extract_answer, solve, verify, verify_equation
from tests.conftest import short_id

HANG_BOUND_S = 0.05
NUMS = [19, 36, 55, 7]


def timed(fn, *args):
    # CPU time: a hang burns CPU; being preempted on a loaded machine does not count.
    t0 = time.process_time()
    verdict = fn(*args)
    elapsed = time.process_time() - t0
    assert isinstance(verdict, Verdict)
    assert verdict.reason in REASONS
    assert elapsed < HANG_BOUND_S, f"{elapsed * 1e3:.1f} ms"
    return verdict


# (equation, numbers, target, expected reason) — the issue's list of bad inputs, and then some.
BAD_EQUATIONS = [
    ("__import__('os').system('id')", [1, 2], 3, "disallowed"),
    ("().__class__.__bases__[0].__subclasses__()", [1], 1, "disallowed"),
    ("(1).__class__.__mro__", [1], 1, "disallowed"),
    ("(lambda: 1)()", [1], 1, "disallowed"),
    ("lambda x: x", [1], 1, "disallowed"),
    ("2**3", [2, 3], 8, "disallowed"),
    ("10**9**8**7", [10, 9, 8, 7], 1, "disallowed"),
    ("2 * * 3", [2, 3], 8, "syntax"),
    ("7//2", [7, 2], 3, "disallowed"),
    ("7%2", [7, 2], 1, "disallowed"),
    ("1.5*2", [1, 5, 2], 3, "disallowed"),
    ("1e3", [1, 3], 1000, "disallowed"),
    ("0x10", [16], 16, "disallowed"),
    ("1_0", [10], 10, "disallowed"),
    ("07+1", [7, 1], 8, "syntax"),
    ("00+8", [0, 8], 8, "syntax"),
    ("-1+2", [1, 2], 1, "disallowed"),
    ("2*-3+9", [2, 3, 9], 3, "disallowed"),
    ("+1+2", [1, 2], 3, "disallowed"),
    ("1/(2-2)", [1, 2, 2], 1, "division_by_zero"),
    ("7/(3-3)+1", [7, 3, 3, 1], 1, "division_by_zero"),
    ("3/2", [3, 2], 1, "wrong_value"),
    ("7/2*2", [7, 2, 2], 6, "wrong_value"),
    # Near misses that any float tolerance (math.isclose's default, 1e-9 relative) would accept.
    ("65+1/(100*99*98*97)", [65, 1, 100, 99, 98, 97], 65, "wrong_value"),
    ("65-1/(100*99*98*97)", [65, 1, 100, 99, 98, 97], 65, "wrong_value"),
    ("١+٢", [1, 2], 3, "disallowed"),  # Arabic-Indic digits
    ("１+2", [1, 2], 3, "disallowed"),  # full-width digit
    ("𝟏+2", [1, 2], 3, "disallowed"),  # mathematical bold digit (int() would accept it)
    ("1+2 = 4", [1, 2], 3, "wrong_rhs"),
    ("1+2 = 03", [1, 2], 3, "syntax"),
    ("1+2 = 3 = 3", [1, 2], 3, "disallowed"),
    ("1+2 == 3", [1, 2], 3, "disallowed"),
    ("x = 1+2", [1, 2], 3, "disallowed"),
    ("1+2 = x", [1, 2], 3, "disallowed"),
    ("= 3", [1, 2], 3, "empty"),
    ("55+36-7", NUMS, 84, "wrong_numbers"),  # a number missing
    ("55+36-7-19-19", NUMS, 46, "wrong_numbers"),  # a number reused
    ("55+36-7-18", NUMS, 66, "wrong_numbers"),  # a number not given
    ("", NUMS, 65, "empty"),
    ("   ", NUMS, 65, "empty"),
    (None, NUMS, 65, "no_answer"),
    ("(1+2", [1, 2], 3, "syntax"),
    ("1+2)", [1, 2], 3, "syntax"),
    ("()", [1], 1, "disallowed"),
    ("1 2", [1, 2], 3, "syntax"),
    ("1,2", [1, 2], 3, "disallowed"),
    ("[1]", [1], 1, "disallowed"),
    ("True+1", [1], 2, "disallowed"),
    ("1 if 1 else 2", [1, 2], 1, "disallowed"),
    ("1<2", [1, 2], 1, "disallowed"),
    ("1+2;", [1, 2], 3, "disallowed"),
    ("1+2 # comment", [1, 2], 3, "disallowed"),
    ("1+2\\\n", [1, 2], 3, "disallowed"),
    ("1" * 201, [1], 1, "too_long"),
    ("(" * 17 + "1" + ")" * 17, [1], 1, "too_deep"),
    ("(" * 100_000 + "1" + ")" * 100_000, [1], 1, "too_long"),
    ("1" + "+1" * 99, [1] * 100, 100, "bad_task"),  # more numbers than a task can have
]


@pytest.mark.parametrize("equation,numbers,target,reason", BAD_EQUATIONS, ids=short_id)
def test_bad_equations_get_a_verdict_fast(equation, numbers, target, reason):
    verdict = timed(verify_equation, equation, numbers, target)
    assert not verdict.ok
    assert verdict.reason == reason
    # The same text as a completion's answer block gets the same verdict.
    if isinstance(equation, str) and equation.strip():
        assert timed(verify, f"<think>x</think><answer>{equation}</answer>", numbers, target).reason == reason


GOOD_EQUATIONS = [
    ("55+36-7-19", NUMS, 65),
    ("(55 + 36) - (7 + 19)", NUMS, 65),
    ("55+36-7-19 = 65", NUMS, 65),
    ("((((55))+36))-7-19", NUMS, 65),
    ("(1 + 2) / 3 = 1", [1, 2, 3], 1),  # the prompt's own example
    ("3/2*2", [3, 2, 2], 3),  # exact rationals: no float rounding either way
    ("1/3+1/3+1/3", [1, 3, 1, 3, 1, 3], 1),
    ("100-0", [100, 0], 100),
    ("\n 1 +\t2 \n", [1, 2], 3),
    ("1+2", [1.0, 2], 3.0),  # integral floats and strings are read as the integers they are
    ("1+2", ["1", "2"], "3"),
    # whitespace is not content, wherever it stands (issue 15: these were false rejects)
    ("55+36\n-7-19", NUMS, 65),  # a line break between terms, outside parentheses
    ("55+36\r\n-7\r\n-19\r\n", NUMS, 65),  # \r\n line endings
    (" " * 250 + "55+36-7-19", NUMS, 65),  # surrounding whitespace does not count against the cap
    ("55+36-7-19" + "\n" * 300, NUMS, 65),
]


@pytest.mark.parametrize("equation,numbers,target", GOOD_EQUATIONS)
def test_correct_equations_verify(equation, numbers, target):
    verdict = timed(verify_equation, equation, numbers, target)
    assert verdict.ok and verdict.reason == "ok"
    assert verdict.value == Fraction(int(float(target)))


@pytest.mark.parametrize(
    "numbers,target",
    [(None, 3), ([], 3), ("12", 3), ([1, 2], None), ([1, 2], 3.5), ([True, 2], 3), ([1, 2], "x"), (5, 3), ([1, [2]], 3)],
)
def test_bad_tasks_are_a_verdict(numbers, target):
    verdict = timed(verify_equation, "1+2", numbers, target)
    assert not verdict.ok and verdict.reason == "bad_task"


def test_value_is_exact_and_reported_for_wrong_answers():
    verdict = verify_equation("55+36-7", [55, 36, 7], 85)
    assert (verdict.reason, verdict.value) == ("wrong_value", Fraction(84))
    assert verify_equation("7/2", [7, 2], 3).value == Fraction(7, 2)
    assert json.loads(json.dumps(verify_equation("7/2", [7, 2], 3).to_dict())) == {
        "ok": False, "reason": "wrong_value", "value": "7/2", "equation": "7/2"}
    # a verdict with no value (the equation never evaluated) says so as JSON null, not "None"
    assert verify_equation("55+", [55, 36, 7], 85).to_dict()["value"] is None


def test_numbers_from_numpy_and_datasets_are_integers_too():
    """Rows read through pandas/pyarrow hand over numpy integers; they are valid task numbers
    (a bool or a fractional float is not)."""
    np = pytest.importorskip("numpy")
    assert verify_equation("55+36-7-19", np.array([19, 36, 55, 7]), np.int64(65)).ok
    assert verify_equation("55+36-7-19", [np.int32(19), 36, 55, 7], 65).ok
    assert verify_equation("1+2", [True, 2], 3).reason == "bad_task"
    assert verify_equation("1+2", [1.5, 2], 3).reason == "bad_task" and verify_equation("1+2", [1.0, 2], 3).ok


# --- completions ----------------------------------------------------------------------------

MB = 1 << 20
ADVERSARIAL_COMPLETIONS = [
    ("<think>" + "x" * MB + "</think><answer>55+36-7-19</answer>", True, "ok"),
    ("<answer>55+36-7-19</answer>" + "x" * MB, True, "ok"),  # answer first, 1 MB after it
    ("<answer>" + "(" * 100_000 + "1" + ")" * 100_000 + "</answer>", False, "too_long"),
    ("(" * 100_000 + "55+36-7-19" + ")" * 100_000, False, "no_answer"),
    # the last complete block is the innermost "<answer></answer>": empty (the duplicated closing
    # tags after it are not part of it)
    ("<answer>" * (MB // 8) + "</answer>" * (MB // 9), False, "empty"),
    ("<answer<answer" * (MB // 14) + "</answer>", False, "no_answer"),
    ("</answer" * (MB // 8), False, "no_answer"),
    ("<answer>" + "1+" * (MB // 2) + "1</answer>", False, "too_long"),
    ("<answer>" + "9" * MB + "</answer>", False, "too_long"),
    ("\x00<answer>55+36-7-19</answer>\x00", True, "ok"),
    ("<answer>55+36-7-19</ANSWER>", False, "no_answer"),
    ("<answer>55+36-7-19", False, "no_answer"),
    ("55+36-7-19</answer>", False, "no_answer"),
    ("<answer>55+36-7-19</answer><answer>__import__('os').system('id')</answer>", False, "disallowed"),
    ("<answer>55+36-7-19</answer></answer>", True, "ok"),  # a duplicated closing tag (issue 15)
    ("<answer>55+36-7</answer><answer>55+36-7-19</answer></answer></answer>", True, "ok"),
    ("<answer>" + " " * MB + "55+36-7-19 </answer>", True, "ok"),  # 1 MB of padding, still bounded
    ("<answer>" + " " * MB + "55+36-7-19" + " " * MB + "</answer>", True, "ok"),
    ("", False, "no_answer"),
    (None, False, "no_answer"),
    (b"<answer>55+36-7-19</answer>", False, "no_answer"),
    (["<answer>55+36-7-19</answer>"], False, "no_answer"),
]


@pytest.mark.parametrize("completion,ok,reason", ADVERSARIAL_COMPLETIONS, ids=lambda x: short_id(x, 30))
def test_adversarial_completions(completion, ok, reason):
    verdict = timed(verify, completion, NUMS, 65)
    assert (verdict.ok, verdict.reason) == (ok, reason)


def test_last_answer_block_wins():
    wrong_then_right = "<answer>55+36-7</answer> no wait <answer>55+36-7-19</answer>"
    right_then_wrong = "<answer>55+36-7-19</answer> hmm <answer>55+36-7</answer>"
    assert verify(wrong_then_right, NUMS, 65).ok
    assert verify(right_then_wrong, NUMS, 65).reason == "wrong_numbers"
    assert extract_answer("<answer>a</answer><answer> b </answer>") == " b "
    # An unterminated block after a complete one does not hide the complete one.
    assert extract_answer("<answer>a</answer><answer>b") == "a"


def test_never_evaluates_code(monkeypatch):
    """With eval/exec/compile made to explode, verdicts are unchanged: nothing is ever evaluated."""

    def boom(*a, **k):
        raise AssertionError("the verifier evaluated code")

    for name in ("eval", "exec", "__import__"):
        monkeypatch.setattr(builtins, name, boom)
    assert verify_equation("55+36-7-19", NUMS, 65).ok
    assert verify_equation("__import__('os').system('id')", NUMS, 65).reason == "disallowed"


# --- properties -----------------------------------------------------------------------------

def random_expression(rng: random.Random, numbers):
    """A random fully parenthesised expression using each number once, as (text, tree)."""
    items = [(str(n), n) for n in numbers]
    while len(items) > 1:
        a = items.pop(rng.randrange(len(items)))
        b = items.pop(rng.randrange(len(items)))
        op = rng.choice("+-*/")
        items.append((f"({a[0]}{op}{b[0]})", (op, a[1], b[1])))
    return items[0]


def fraction_value(tree):
    if isinstance(tree, int):
        return Fraction(tree)
    op, a, b = tree
    x, y = fraction_value(a), fraction_value(b)
    if op == "/" and y == 0:
        return None
    return None if x is None or y is None else {"+": x + y, "-": x - y, "*": x * y, "/": x / y if y else 0}[op]


def sympy_value(tree):
    """The value computed with sympy's own exact rationals, from the tree (never parsing text)."""
    import sympy

    if isinstance(tree, int):
        return sympy.Rational(tree)
    op, a, b = tree
    x, y = sympy_value(a), sympy_value(b)
    if x is None or y is None or (op == "/" and y == 0):
        return None
    return {"+": x + y, "-": x - y, "*": x * y, "/": x / y}[op]


numbers_st = st.lists(st.integers(1, 100), min_size=3, max_size=4)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(numbers=numbers_st, seed=st.integers(0, 2**32))
def test_value_agrees_with_sympy_rational(numbers, seed):
    """The verifier's Fraction value is sympy.Rational's value of the same expression."""
    text, tree = random_expression(random.Random(seed), numbers)
    expected = sympy_value(tree)
    verdict = verify_equation(text, numbers, 24)
    if expected is None:
        assert verdict.reason == "division_by_zero"
    else:
        assert verdict.value is not None
        assert (verdict.value.numerator, verdict.value.denominator) == (expected.p, expected.q)
        assert verdict.ok == (expected == 24)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(numbers=numbers_st, target=st.integers(1, 120), seed=st.integers(0, 2**32))
def test_verifier_agrees_with_solver(numbers, target, seed):
    solution = solve(numbers, target)
    if solution is not None:
        verdict = verify_equation(solution.expression, numbers, target)
        assert verdict.ok, (solution, verdict)
        assert verify(f"<think>{' '.join(solution.steps)}</think><answer>{solution.expression}</answer>",
                      numbers, target).ok
    else:
        # Unsolvable: no expression over these numbers may verify.
        rng = random.Random(seed)
        for _ in range(50):
            text, tree = random_expression(rng, numbers)
            verdict = verify_equation(text, numbers, target)
            assert not verdict.ok
            assert verdict.reason in ("wrong_value", "division_by_zero")
            assert verdict.value == fraction_value(tree)


answer_alphabet = st.sampled_from(list("0123456789+-*/()= .\n\t_xe") + ["<answer>", "</answer>", "**", "//"])


@FAST
@given(text=st.text(max_size=300) | st.lists(answer_alphabet, max_size=80).map("".join),
       numbers=st.lists(st.integers(-5, 200), max_size=5) | st.none(),
       target=st.integers(-10, 1000) | st.none())
def test_never_raises_on_random_text(text, numbers, target):
    for verdict in (verify(text, numbers, target), verify_equation(text, numbers, target),
                    verify(f"<answer>{text}</answer>", numbers, target)):
        assert isinstance(verdict, Verdict) and verdict.reason in REASONS
        assert verdict.ok == (verdict.reason == "ok")
        json.dumps(verdict.to_dict())


# --- the fast path and the ast path agree -------------------------------------------------------
# verify_equation evaluates plain equations with a small operator-precedence pass (ast.parse alone
# costs as much as a whole eval scorer); everything else goes to the ast whitelist. Both must give
# the same verdict — value, reason and all — on any input.

from tasks.countdown.verifier import _verdict  # noqa: E402


OP_SPELLINGS = ["+", "-", "*", "/", " + ", " / ", "*\t"]


def loosely_parenthesised(rng: random.Random, numbers) -> str:
    """Random expression text: brackets only sometimes, so precedence and associativity matter."""
    items = [str(n) for n in numbers]
    while len(items) > 1:
        a = items.pop(rng.randrange(len(items)))
        b = items.pop(rng.randrange(len(items)))
        text = f"{a}{rng.choice(OP_SPELLINGS)}{b}"
        items.append(f"({text})" if rng.random() < 0.4 else text)
    return f"({items[0]})" if rng.random() < 0.2 else items[0]


@settings(max_examples=300, deadline=None)
@given(numbers=st.lists(st.integers(0, 120), min_size=1, max_size=6), seed=st.integers(0, 2**32))
def test_fast_path_agrees_with_ast_path_on_expressions(numbers, seed):
    text = loosely_parenthesised(random.Random(seed), numbers)
    fast, slow = _verdict(text, numbers, 24, fast=True), _verdict(text, numbers, 24, fast=False)
    assert fast == slow, text


equation_chars = st.sampled_from(list("0123456789+-*/()  \t\n") + ["00", "07", "**", "//", "= 24", "(", ")"])


@settings(max_examples=500, deadline=None)
@given(parts=st.lists(equation_chars, max_size=40), numbers=st.lists(st.integers(0, 9), min_size=1, max_size=5))
def test_fast_path_agrees_with_ast_path_on_random_text(parts, numbers):
    text = "".join(parts)
    assert _verdict(text, numbers, 24, fast=True) == _verdict(text, numbers, 24, fast=False), text


# --- the layers behind the verdict (white-box: each must do its own job, not lean on the next) ---

from tasks.countdown.verifier import MAX_EQUATION_CHARS, MAX_PAREN_DEPTH, _fast_value, _Unusual  # noqa: E402


@pytest.mark.parametrize("fast", [True, False])
def test_nesting_at_the_cap_is_legal_and_one_deeper_is_not(fast):
    d = MAX_PAREN_DEPTH
    deep_ok = "(" * d + "1" + ")" * d + "+(2)"  # more than d parentheses in all, never deeper than d
    assert _verdict(deep_ok, [1, 2], 3, fast=fast).reason == "ok"
    assert _verdict("(" * (d + 1) + "1+2" + ")" * (d + 1), [1, 2], 3, fast=fast).reason == "too_deep"
    assert _verdict(")" + "(" * d + "1+2" + ")" * (d - 1) + "(", [1, 2], 3, fast=fast).reason == "syntax"
    assert _verdict("(1)+(2)" + ")" * d, [1, 2], 3, fast=fast).reason == "syntax"
    assert _verdict("(" * d + "1" + ")" * (d - 1) + "+(2)", [1, 2], 3, fast=fast).reason == "syntax"  # one left open


@pytest.mark.parametrize("fast", [True, False])
def test_the_limits_are_inclusive(fast):
    m = MAX_EQUATION_CHARS
    assert _verdict("1" * m, [1], 1, fast=fast).reason == "wrong_numbers"  # exactly the cap: judged
    assert _verdict("1" * (m + 1), [1], 1, fast=fast).reason == "too_long"
    sixteen = "+".join(["1"] * 16)
    assert _verdict(sixteen, tuple([1] * 16), 16, fast=fast).ok  # 16 numbers, not a list: the general path
    assert _verdict(sixteen, [1] * 16, 16, fast=fast).ok
    assert _verdict("55+36\r-7-19", [19, 36, 55, 7], 65, fast=fast).ok  # a lone \r is a line break too


def test_an_unforeseen_error_inside_is_a_syntax_verdict(monkeypatch):
    import tasks.countdown.verifier as v

    def boom(*a, **k):
        raise ZeroDivisionError("unforeseen")

    monkeypatch.setattr(v, "_verify_equation", boom)
    assert verify_equation("1+2", [1, 2], 3).to_dict() == {"ok": False, "reason": "syntax", "value": None,
                                                            "equation": "1+2"}
    assert verify_equation(None, [1, 2], 3).to_dict()["equation"] is None


def test_the_fast_path_takes_every_solver_answer():
    """The fast path is the verifier's speed (benchmarks/verifier.py): it must evaluate the answers a
    model is trained to write itself, not hand them to the ast path."""
    from tasks.countdown.data import generate_tasks

    for task in generate_tasks(150, seed=7):  # generated tasks are solvable
        nums, target = task["nums"], task["target"]
        expr = solve(nums, target).expression
        spaced = " ".join(re.sub(r"([-+*/()])", r" \1 ", expr).split())
        for text in (expr, f"({expr})", spaced):
            used: list[int] = []
            try:
                value = _fast_value(text, used)
            except _Unusual:
                pytest.fail(f"the fast path gave up on {text!r}")
            assert sorted(used) == sorted(nums) and value == target


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("equation,numbers,target,expected", [
    ("55+36-7-19", [19, 36, 55, 7], 65, (True, "ok", "65", "55+36-7-19")),
    (" 55 + 36\r\n - 7 - 19 = 65 ", [19, 36, 55, 7], 65, (True, "ok", "65", "55 + 36   - 7 - 19")),
    ("55+36-7", [19, 36, 55, 7], 65, (False, "wrong_numbers", "84", "55+36-7")),
    ("7/2", [7, 2], 3, (False, "wrong_value", "7/2", "7/2")),
    ("1+2 = ", [1, 2], 3, (False, "syntax", None, "1+2 = ")),  # a rejection keeps the text as given
    ("1+2 = x", [1, 2], 3, (False, "disallowed", None, "1+2 = x")),
    ("1+2=3=3", [1, 2], 3, (False, "disallowed", None, "1+2=3=3")),
    ("1+(2", [1, 2], 3, (False, "syntax", None, "1+(2")),
    ("1**2", [1, 2], 3, (False, "disallowed", None, "1**2")),
    ("1" + "0" * 199 + "1", [1], 1, (False, "too_long", None, "1" + "0" * 199 + "1")),
    ("1+2", list(range(1, 18)), 3, (False, "bad_task", None, "1+2")),
    ("1+2", [], 3, (False, "bad_task", None, "1+2")),
    (None, [1, 2], 3, (False, "no_answer", None, None)),
], ids=short_id)
def test_every_field_of_the_verdict(equation, numbers, target, expected, fast):
    """ok, reason, the exact value and the equation: as judged when it evaluated (stripped, each
    line-break character a space, the "= N" suffix dropped), as given when it was rejected; on both paths."""
    d = _verdict(equation, numbers, target, fast=fast).to_dict()
    assert (d["ok"], d["reason"], d["value"], d["equation"]) == expected
    public = verify_equation(equation, numbers, target).to_dict()
    assert public == _verdict(equation, numbers, target, fast=True).to_dict()


# --- whitespace never hides text (issue 24) -------------------------------------------------------
# A correct equation, a long run of whitespace, then anything: the block used to be stripped and cut
# just past the cap, the cut landed in the whitespace, and only the correct prefix was judged
# (`55+36-7-19` + 255 spaces + `*0` was "ok"). Whatever the whitespace does, every character of the
# answer block is judged, and an equation over the cap (surrounding whitespace aside) is too_long.

WHITESPACE = [c for c in map(chr, range(0x3001)) if c.isspace()]  # every kind str.strip() removes
CORRECT = [("55+36-7-19", NUMS, 65), ("(55 + 36) - (7 + 19)", NUMS, 65), ("(1 + 2) / 3 = 1", [1, 2, 3], 1),
           ("3/2*2", [3, 2, 2], 3), ("100-0", [100, 0], 100)]
# Tails that make any of the correct equations above wrong, whatever stands between.
BAD_TAILS = ["*0", "+1", "/0", "))", "**2", "+abc", "+__import__('os').getpid()", "-0+1", "x", "(", "= 66",
             "*1*0", "7", "\x00", "<", "1", "+(1-1)", "*(2/2)"]
# Lengths around the cap (a cut there was the bug), far past it, and 1 MB.
PAD_LENGTHS = st.sampled_from([1, 2, 63, 64, 65, 150, 180, 189, 190, 191, 199, 200, 201, 254, 255, 256, 264,
                               265, 266, 300, 1000, 4096, 65536, MB]) | st.integers(1, 600)
pads = st.builds(lambda kinds, n: ("".join(kinds) * n)[:n] if n else "",
                 st.lists(st.sampled_from(WHITESPACE + ["\r\n"]), min_size=1, max_size=3), PAD_LENGTHS)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(CORRECT), pad=pads, tail=st.sampled_from(BAD_TAILS), lead=pads | st.just(""))
def test_whitespace_then_a_bad_tail_is_never_ok(case, pad, tail, lead):
    equation, numbers, target = case
    verdict = timed(verify, f"<think>x</think><answer>{lead}{equation}{pad}{tail}</answer>", numbers, target)
    assert not verdict.ok, (len(pad), repr(pad[:3]), tail, verdict)
    if len(f"{equation}{pad}{tail}") > MAX_EQUATION_CHARS:
        assert verdict.reason == "too_long", (len(pad), tail, verdict.reason)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(CORRECT), pad=pads, tail=st.text(min_size=1, max_size=40))
def test_whitespace_then_any_tail_is_judged_whole(case, pad, tail):
    """Any tail at all: `verify` says what the whole equation says (the `ast` path, no extraction),
    and never ok when the whole is over the cap."""
    equation, numbers, target = case
    whole = f"{equation}{pad}{tail}"
    verdict = timed(verify, f"<answer>{whole}</answer>", numbers, target)
    if "</answer>" in tail or "<answer>" in tail:
        return  # the tail closes or opens a block of its own: another answer, judged elsewhere
    if len(whole.strip()) > MAX_EQUATION_CHARS:
        assert verdict.reason == "too_long" and not verdict.ok
    else:
        assert verdict == _verdict(whole, numbers, target, fast=False)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(CORRECT), lead=pads | st.just(""), trail=pads | st.just(""))
def test_a_correct_answer_padded_with_whitespace_stays_ok(case, lead, trail):
    equation, numbers, target = case
    assert timed(verify, f"<think>x</think><answer>{lead}{equation}{trail}</answer>", numbers, target).ok
    assert timed(verify_equation, f"{lead}{equation}{trail}", numbers, target).ok


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(CORRECT), inner=pads, at=st.integers(1, 100), lead=pads | st.just(""))
def test_over_the_cap_is_too_long_whatever_the_whitespace_inside(case, inner, at, lead):
    """Internal whitespace counts: an equation over the cap is too_long, never a reason about its
    numbers or its syntax (11 correct answers with long inner whitespace used to be wrong_numbers or syntax)."""
    equation, numbers, target = case
    at = min(at, len(equation) - 1)  # strictly inside: whitespace at either end is surrounding
    body = equation[:at] + inner + equation[at:]
    verdict = timed(verify, f"<answer>{lead}{body}{lead}</answer>", numbers, target)
    if len(body) > MAX_EQUATION_CHARS:
        assert verdict.reason == "too_long"


@pytest.mark.parametrize("completion,reason", [
    ("<answer>55+36-7-19" + " " * 255 + "*0</answer>", "too_long"),  # the issue's two examples
    ("<answer>55+36-7-19" + "\n" * 300 + "+1</answer>", "too_long"),
    ("<answer>55+36-7-19" + " " * 150 + "= 66</answer>", "wrong_rhs"),  # under the cap: judged whole
    ("<answer>16" + " " * 1000 + "+19+55+7</answer>", "too_long"),
    ("<answer>" + " " * MB + "55+36-7-19" + " " * MB + "*0</answer>", "too_long"),
])
def test_the_issue_examples(completion, reason):
    assert timed(verify, completion, NUMS, 65).reason == reason


def test_extract_answer_returns_the_whole_block():
    """No cut and no strip: the verifier decides what surrounding whitespace means, in one place."""
    m = MAX_EQUATION_CHARS
    for block in ("1" * (m + 65), " " * 100 + "1" * (m + 65) + " " * 100, "55+36-7-19" + " " * 300 + "*0"):
        assert extract_answer(f"<answer>{block}</answer>") == block
    assert extract_answer("</answer><answer>1+2</answer>") == "1+2" and extract_answer("</answer>") is None
