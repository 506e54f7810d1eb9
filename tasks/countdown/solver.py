"""Exact Countdown solver: searches every expression over the numbers (each used once, binary
+ - * /, any parenthesisation) with exact arithmetic.

Used by the data generator (is a task solvable?), by tests as ground truth for the verifier,
and by the cold-start SFT to write step-by-step traces.

`integer_only=True` follows the game's rule as the public generators apply it (every
intermediate result a non-negative integer, division only when exact); the default searches
rationals, which is what the verifier accepts.

    >>> solve([19, 36, 55, 7], 65) is not None
    True
    >>> solve([1, 1, 1], 100) is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache


@dataclass(frozen=True)
class Solution:
    expression: str  # fully parenthesised where needed, e.g. "(55+36)-(7+19)"
    steps: tuple[str, ...]  # one binary operation a line, e.g. ("55+36=91", "7+19=26", "91-26=65")


def _fmt(v) -> str:
    return str(v) if not isinstance(v, Fraction) or v.denominator != 1 else str(v.numerator)


def _operand(v) -> str:
    # A fraction or negative operand in a step is bracketed: "8/(1/3)=24", not "8/1/3=24".
    text = _fmt(v)
    return text if text.isdigit() else f"({text})"


def _combine(a, b, integer_only: bool):
    """Yield (value, op) for a ∘ b over both operand orders where it matters."""
    yield a + b, "+", a, b
    yield a * b, "*", a, b
    if integer_only:
        hi, lo = (a, b) if a >= b else (b, a)
        yield hi - lo, "-", hi, lo
        if lo != 0 and hi % lo == 0:
            yield hi // lo, "/", hi, lo
    else:
        yield a - b, "-", a, b
        yield b - a, "-", b, a
        if b != 0:
            yield a / b, "/", a, b
        if a != 0:
            yield b / a, "/", b, a


def _search(items, target, integer_only, dead):
    # items: tuple of (value, expr, steps); dead: value-multisets already shown to fail
    if len(items) == 1:
        return items[0] if items[0][0] == target else None
    key = tuple(sorted(v for v, _, _ in items))
    if key in dead:
        return None
    n = len(items)
    for i in range(n):
        for j in range(i + 1, n):
            rest = [items[k] for k in range(n) if k != i and k != j]
            (a, ea, sa), (b, eb, sb) = items[i], items[j]
            for value, op, x, y in _combine(a, b, integer_only):
                ex, ey = (ea, eb) if x is a and y is b else (eb, ea)
                sx, sy = (sa, sb) if x is a and y is b else (sb, sa)
                if x is y:  # a == b and identical objects: keep textual order stable
                    ex, ey, sx, sy = ea, eb, sa, sb
                expr = f"{_wrap(ex)}{op}{_wrap(ey)}"
                step = f"{_operand(x)}{op}{_operand(y)}={_fmt(value)}"
                found = _search((*rest, (value, expr, sx + sy + (step,))), target, integer_only, dead)
                if found is not None:
                    return found
    dead.add(key)
    return None


def _wrap(expr: str) -> str:
    return expr if expr.isdigit() else f"({expr})"


def _unwrap(expr: str) -> str:
    """The answer without one pair of parentheses around the whole of it."""
    return expr[1:-1] if expr.startswith("(") and _balanced_outer(expr) else expr


def solve(numbers, target, integer_only: bool = False) -> Solution | None:
    """A solution using every number exactly once, or None if none exists."""
    conv = int if integer_only else Fraction
    items = tuple((conv(n), str(int(n)), ()) for n in numbers)
    found = _search(items, conv(target), integer_only, set())
    if found is None:
        return None
    _, expr, steps = found
    return Solution(_unwrap(expr), steps)


def all_solutions(numbers, target) -> list[Solution]:
    """Every integer-rule step sequence that reaches `target` using each number once, in a fixed
    order (the cold start's "diverse" traces pick one at random, so the model sees several ways
    to the same target instead of the search order's first).

    >>> [s.expression for s in all_solutions([2, 3, 4], 10)]
    ['4+(2*3)', '(3*4)-2']
    """
    out: set[Solution] = set()

    def walk(items, steps):
        if len(items) == 1:
            if items[0][0] == target:
                out.add(Solution(_unwrap(items[0][1]), steps))
            return
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                rest = [items[k] for k in range(len(items)) if k not in (i, j)]
                (a, ea), (b, eb) = items[i], items[j]
                for value, op, x, y in _combine(a, b, integer_only=True):
                    ex, ey = (ea, eb) if x is a else (eb, ea)
                    walk((*rest, (value, f"{_wrap(ex)}{op}{_wrap(ey)}")), steps + (f"{x}{op}{y}={value}",))

    walk(tuple((int(n), str(int(n))) for n in numbers), ())
    return sorted(out, key=lambda s: (s.steps, s.expression))


def random_attempt(numbers, rng) -> tuple[int, list[str]]:
    """One full-depth try with the integer rule, each pair and operation drawn from `rng`: its final
    value and its steps (the cold start's search traces show such tries).

    >>> import random
    >>> value, steps = random_attempt([2, 3, 4], random.Random(0))
    >>> len(steps), steps[-1].endswith(f"={value}")
    (2, True)
    """
    items = [int(n) for n in numbers]
    steps = []
    while len(items) > 1:
        i, j = rng.sample(range(len(items)), 2)
        a, b = items[i], items[j]
        value, op, x, y = rng.choice(list(_combine(a, b, integer_only=True)))
        items = [items[k] for k in range(len(items)) if k not in (i, j)] + [value]
        steps.append(f"{x}{op}{y}={value}")
    return items[0], steps


def _balanced_outer(expr: str) -> bool:
    depth = 0
    for i, ch in enumerate(expr):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(expr) - 1:
            return False
    return True


def is_solvable(numbers, target, integer_only: bool = False) -> bool:
    return solve(numbers, target, integer_only) is not None


@lru_cache(maxsize=1 << 18)
def reachable_integers(numbers: tuple[int, ...]) -> frozenset[int]:
    """Every value the game's integer rule reaches using all of `numbers` (sorted tuple).

    Set-based and memoised on sub-multisets, so the generator's rejection sampling stays at
    tens of microseconds a try instead of a full expression search.
    """
    if len(numbers) == 1:
        return frozenset(numbers)
    out: set[int] = set()
    n = len(numbers)
    # Split the multiset into two non-empty parts; mask < 2**(n-1) visits each split once.
    for mask in range(1, 1 << (n - 1)):
        left = tuple(numbers[i] for i in range(n) if mask >> i & 1)
        right = tuple(numbers[i] for i in range(n) if not mask >> i & 1)
        for a in reachable_integers(left):
            for b in reachable_integers(right):
                out.add(a + b)
                out.add(a * b)
                out.add(a - b if a >= b else b - a)
                if b and a % b == 0:
                    out.add(a // b)
                if a and b % a == 0:
                    out.add(b // a)
    return frozenset(out)
