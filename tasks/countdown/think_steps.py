"""Does the think block compute? Checks each `a op b = c` step the model writes before `</think>`.

The answer's verifier never looks inside the think block, so a policy can (and the embedded run's
does) keep the block's shape while its arithmetic goes wrong. A step is right when its value is
exact (`Fraction`s, never `eval`) and its operands are on hand: a number of the task
not used yet, or the result of an earlier step not used yet, each once.

    >>> check_steps("36-19=17 55-7=48 17+48=65", [19, 36, 55, 7])
    (3, 3)
    >>> check_steps("55-7=48 19-36=-17 48-(-17)=65", [19, 36, 55, 7])
    (3, 3)
    >>> check_steps("83-51=11 59+59=91", [51, 83, 59])  # wrong value, then 59 used twice
    (0, 2)
    >>> check_steps("no steps here", [1, 2])
    (0, 0)

A block written with each value's digits least-significant first (the opt-in `think_digits: reversed`
traces) is read that way: a block counts in whichever digit order makes more of its steps right.

    >>> check_steps("36-19=71 55-7=84 17+48=56", [19, 36, 55, 7])
    (3, 3)
"""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction

from .think_split import split_reasoning

# A step as the cold-start traces write it (tasks.countdown.solver): operand, operator, operand, "=",
# value; a negative or fractional operand is bracketed ("48-(-17)=65", "8/(1/3)=24"), a value may be
# either ("19-36=-17", "1/3"). At most 6 digits a number (the task's are two-digit, every exact
# result of four of them has fewer), so a hostile run of digits costs nothing.
_NUM = r"\d{1,6}"
_OPERAND = rf"(?:{_NUM}|\(-?{_NUM}(?:/{_NUM})?\))"
_STEP = re.compile(rf"(?<![\d./()\-])({_OPERAND})\s*([-+*/])\s*({_OPERAND})\s*=\s*(-?{_NUM}(?:/{_NUM})?)(?![\d./])")
_MAX_THINK_CHARS = 4096  # a sane think block of this task is ~100 characters


def _number(text: str) -> Fraction | None:
    """The value a step writes; None for a zero denominator (the step is wrong, not an error)."""
    top, _, bottom = text.strip("()").partition("/")
    if not bottom:
        return Fraction(int(top))
    return Fraction(int(top), int(bottom)) if int(bottom) else None


def _value(a: Fraction, op: str, b: Fraction) -> Fraction | None:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a / b if b else None


def check_steps(reasoning: str, nums) -> tuple[int, int]:
    """(right, written) steps of a think block for the task's `nums`, in the digit order that reads more right."""
    return max(_check(reasoning, nums, False), _check(reasoning, nums, True))


def _check(reasoning: str, nums, reversed_values: bool) -> tuple[int, int]:
    text = reasoning[:_MAX_THINK_CHARS]
    on_hand = Counter(Fraction(int(n)) for n in nums)
    right = written = 0
    for a, op, b, c in _STEP.findall(text):
        written += 1
        if reversed_values and c.isdigit():
            c = c[::-1]
        a, b, c = _number(a), _number(b), _number(c)
        if a is None or b is None or c is None:
            continue
        need = Counter([a, b])
        if _value(a, op, b) == c and all(on_hand[k] >= v for k, v in need.items()):
            on_hand -= need
            on_hand[c] += 1
            right += 1
    return right, written


def tally(rows) -> dict:
    """Steps right and written over scored rows (`completion`, `nums`, `ok`), over all answers and
    over the solved tasks only: does the think block compute, and does it where the answer is right?

    >>> tally([{"completion": "1+2=3 3*3=9</think><answer>(1+2)*3</answer>", "nums": [1, 2, 3], "ok": True},
    ...        {"completion": "1+2=4</think><answer>1+2</answer>", "nums": [1, 2], "ok": False}])
    {'right': 2, 'written': 3, 'right_in_solved': 2, 'written_in_solved': 2}
    """
    out = {"right": 0, "written": 0, "right_in_solved": 0, "written_in_solved": 0}
    for r in rows:
        right, written = check_steps(think_of(r["completion"] or ""), r["nums"])
        out["right"] += right
        out["written"] += written
        if r.get("ok"):
            out["right_in_solved"] += right
            out["written_in_solved"] += written
    return out


def think_of(completion: str) -> str:
    """The think block of a completion that starts inside it (after the prompt's `<think>`)."""
    return split_reasoning(completion)[0]


__all__ = ["check_steps", "tally", "think_of"]
