"""How hard a Countdown task is, from the solver's solutions: which operators it needs, and how
many different answers reach the target. Evaluation breaks accuracy down by both, because a
trained model that learns only to add and subtract, or only finds targets with many routes,
shows up there and not in the overall accuracy.

    >>> difficulty([19, 36, 55, 7], 65)
    {'operators': '+/- only', 'solutions': '3+ solutions'}
    >>> difficulty([68, 21, 8], 100)   # only (21*8)-68
    {'operators': 'needs * or /', 'solutions': '1-2 solutions'}
"""

from __future__ import annotations

import re

from tasks.countdown.solver import all_solutions

PLUS_MINUS_ONLY, NEEDS_MUL_DIV, NO_INTEGER_SOLUTION = "+/- only", "needs * or /", "no integer-rule solution"
FEW, MANY = "1-2 solutions", "3+ solutions"  # about a third of the default test tasks have 1-2
FEW_MAX = 2
MAX_NUMBERS_ANALYSED = 5  # every solution of 5 numbers takes ~0.5 s to list; of 6, minutes
NOT_ANALYSED = f"not analysed ({MAX_NUMBERS_ANALYSED + 1}+ numbers)"

_ADDITIVE_STEP = re.compile(r"\d+[-+]\d+=\d+")


def difficulty(nums, target) -> dict:
    """`operators`: whether some solution uses only + and -; `solutions`: how many different
    expressions (the integer rule: every intermediate value a whole number) reach the target."""
    if len(nums) > MAX_NUMBERS_ANALYSED:
        return {"operators": NOT_ANALYSED, "solutions": NOT_ANALYSED}
    sols = all_solutions([int(n) for n in nums], int(target))
    if not sols:
        return {"operators": NO_INTEGER_SOLUTION, "solutions": NO_INTEGER_SOLUTION}
    additive = any(all(_ADDITIVE_STEP.fullmatch(step) for step in s.steps) for s in sols)
    n = len({s.expression for s in sols})
    return {"operators": PLUS_MINUS_ONLY if additive else NEEDS_MUL_DIV, "solutions": FEW if n <= FEW_MAX else MANY}
