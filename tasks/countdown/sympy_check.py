"""A second, independent evaluation of every scored equation, with sympy's exact arithmetic.

The verifier computes values with `fractions.Fraction` (fast, and cheap to import for the reward
and `cli.py verify`). lm-eval scoring imports this module once per evaluation, where sympy's ~3 s
import is cheap, and re-evaluates each equation the verifier gave a value for: the `ast` tree of
the equation is rebuilt as sympy objects node by node (never `sympify`/`parse_expr`, which call
`eval` on model output). A disagreement means the verifier itself is wrong, so it stops the
evaluation instead of being averaged away.

    >>> from tasks.countdown.verifier import verify_equation
    >>> agrees(verify_equation("(1 + 2) / 3", [1, 2, 3], 1))
    True
    >>> agrees(verify_equation("1 + ", [1, 2, 3], 1)) is None   # no value, nothing to compare
    True
"""

from __future__ import annotations

import ast

from tasks.countdown.verifier import Verdict


class ScorerDisagreement(Exception):
    """The verifier's value and sympy's differ: a verifier bug, never a model error."""


def sympy_value(equation: str):
    """The exact value of a whitelisted equation (integer literals, binary + - * /) as a sympy number."""
    import sympy

    def walk(node):
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Add):
                return sympy.Add(left, right)
            if isinstance(node.op, ast.Sub):
                return sympy.Add(left, sympy.Mul(-1, right))
            if isinstance(node.op, ast.Mult):
                return sympy.Mul(left, right)
            if isinstance(node.op, ast.Div):
                return sympy.Mul(left, sympy.Pow(right, -1))
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return sympy.Integer(node.value)
        raise ScorerDisagreement(f"the verifier valued {equation!r}, which holds {ast.dump(node)[:60]}")

    return walk(ast.parse(equation, mode="eval").body)


def agrees(verdict: Verdict) -> bool | None:
    """True when sympy gives the verdict's value, None when the verdict has no value.
    Raises `ScorerDisagreement` when the two differ."""
    if verdict.value is None or verdict.equation is None:
        return None
    import sympy

    theirs = sympy_value(verdict.equation)
    ours = sympy.Rational(verdict.value.numerator, verdict.value.denominator)
    if theirs != ours:
        raise ScorerDisagreement(f"the verifier values {verdict.equation!r} at {verdict.value}, sympy at {theirs}")
    return True
