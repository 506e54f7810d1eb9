"""The one Countdown verifier: training reward, lm-eval metric, demo verdict and `cli.py verify`
all call `verify` / `verify_equation`. Nothing else in the project decides correctness.

Model output is hostile input. The equation is parsed with `ast` (never `eval`, never
`sympy.sympify`/`parse_expr`, which call `eval`), walked against a whitelist (integer literals,
binary + - * /, parentheses) and evaluated with exact rationals. Length and nesting are capped
before parsing, so no input can hang, exhaust memory or raise. Plain equations (the common
case) take a small operator-precedence pass instead, because `ast.parse` alone costs as much as
a whole `eval` scorer; it accepts a strict subset of the whitelist, anything else goes to the
`ast` path, and tests check both paths give the same verdict on random input.

Exact arithmetic uses `fractions.Fraction`: the same exact rational arithmetic as
`sympy.Rational` (tests check the two agree on every value), without sympy's ~3 s import,
which would make `cli.py verify` and every reward worker slow to start.

    >>> verify_equation("55+36-7-19", [19, 36, 55, 7], 65).ok
    True
    >>> verify_equation("55+36-7", [19, 36, 55, 7], 84).reason
    'wrong_numbers'
    >>> verify("<think>...</think><answer>(1 + 2) / 3</answer>", [1, 2, 3], 1).ok
    True
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

# Caps applied before any parsing. A 3–4 number equation is ~20 characters; 200 leaves room
# for spaces and redundant parentheses while keeping the worst case far under a millisecond.
MAX_EQUATION_CHARS = 200
MAX_PAREN_DEPTH = 16
MAX_NUMBERS = 16

ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
_ALLOWED_CHARS = frozenset("0123456789+-*/() \t\n")
# Python itself rejects 07 but accepts 00; both are leading zeros, so both are "syntax".
_LEADING_ZERO = re.compile(r"(?<![0-9])0[0-9]")
_RHS = re.compile(r"[0-9]{1,12}")
_INT_ONLY = {int}
# Fractions are immutable, so the values answers keep producing (targets, mostly) are shared.
_int_fraction = lru_cache(maxsize=4096)(Fraction)
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}

# Every reason the verifier can give. Stable strings: reports and tests key on them.
REASONS = (
    "ok",
    "no_answer",  # no <answer>…</answer> block, or no completion at all
    "empty",  # the answer block holds nothing
    "too_long",  # over MAX_EQUATION_CHARS
    "too_deep",  # parentheses nested over MAX_PAREN_DEPTH
    "disallowed",  # a character or construct outside the whitelist (names, **, //, %, decimals, unary ops, …)
    "syntax",  # not a well-formed expression (includes leading zeros such as 07)
    "wrong_numbers",  # the literals are not exactly the given numbers, each used once
    "division_by_zero",
    "wrong_rhs",  # "expr = N" where N is not the target
    "wrong_value",  # well-formed, right numbers, value differs from the target
    "bad_task",  # the numbers/target themselves are not integers
)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str
    value: Fraction | None = None
    equation: str | None = None

    def to_dict(self) -> dict:
        """JSON-friendly form: the value as an exact string ('65', '13/2')."""
        return {
            "ok": self.ok,
            "reason": self.reason,
            "value": None if self.value is None else str(self.value),
            "equation": self.equation,
        }


_NO_ANSWER = Verdict(False, "no_answer")  # frozen, so one shared instance serves every call


class _Reject(Exception):
    def __init__(self, reason: str):
        self.reason = reason


def extract_answer(completion: str | None) -> str | None:
    """Text inside the *last* complete `<answer>…</answer>` block, or None.

    The block ends at the first `</answer>` after its `<answer>`, so a duplicated closing tag
    (`<answer>E</answer></answer>`, a known degenerate output) still reads as E. The block is
    returned whole, never cut: what surrounding whitespace means is decided once, in
    `_verify_equation`, and a cut here once let `E` + 255 spaces + `*0` be judged as `E`.
    """
    if not isinstance(completion, str):
        return None
    # str.rfind / find are linear C scans (tens of microseconds for 1 MB), so the whole text is searched.
    last_close = completion.rfind(ANSWER_CLOSE)
    if last_close < 0:
        return None
    start = completion.rfind(ANSWER_OPEN, 0, last_close)
    if start < 0:
        return None
    start += len(ANSWER_OPEN)
    return completion[start:completion.find(ANSWER_CLOSE, start)]


def _as_int(x) -> int:
    if type(x) is int:  # the common case first: this runs for every number of every call
        return x
    if isinstance(x, bool):
        raise _Reject("bad_task")
    if isinstance(x, int):
        return x
    if isinstance(x, float) and x.is_integer():
        return int(x)
    if isinstance(x, str) and re.fullmatch(r"-?[0-9]{1,12}", x.strip()):
        return int(x)
    try:  # numpy integers and similar
        import numbers

        if isinstance(x, numbers.Integral):
            return int(x)
    except Exception:
        pass
    raise _Reject("bad_task")


def _eval(node: ast.AST, used: list[int]) -> Fraction:
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left = _eval(node.left, used)
        right = _eval(node.right, used)
        op = type(node.op)
        if op is ast.Add:
            return left + right
        if op is ast.Sub:
            return left - right
        if op is ast.Mult:
            return left * right
        if right == 0:
            raise _Reject("division_by_zero")
        return left / right
    if isinstance(node, ast.Constant) and type(node.value) is int:
        used.append(node.value)
        return Fraction(node.value)
    raise _Reject("disallowed")


def _check_shape(text: str) -> None:
    # the length cap is checked before (on the stripped equation, for both paths)
    if not _ALLOWED_CHARS.issuperset(text):
        raise _Reject("disallowed")
    if "**" in text or "//" in text:
        raise _Reject("disallowed")
    if _LEADING_ZERO.search(text):
        raise _Reject("syntax")
    opens = text.count("(")
    if opens <= MAX_PAREN_DEPTH:
        # Too few to exceed the cap; unbalanced is "syntax" here, and ast.parse says the same of
        # ")(" and the like.
        if opens != text.count(")"):
            raise _Reject("syntax")
        return
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
            if depth > MAX_PAREN_DEPTH:
                raise _Reject("too_deep")
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise _Reject("syntax")
    if depth:
        raise _Reject("syntax")


class _Unusual(Exception):
    """The fast path met something outside its narrow grammar: let the `ast` path decide."""


_TOKENS = re.compile(r"[0-9]+|[-+*/()]")
_FAST_CHARS = frozenset("0123456789+-*/() \t")
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


def _apply(vals: list, op: str) -> bool:
    """Pop two operands, push ``a op b`` exactly. Operands are ``(numerator, denominator)`` int
    pairs, reduced once at the end: plain int arithmetic, several times cheaper than Fraction's.
    Returns False on division by zero (0 is pushed so parsing can finish first)."""
    c, d = vals.pop()
    a, b = vals.pop()
    if op == "+":
        vals.append((a + c, b) if b == d else (a * d + c * b, b * d))
    elif op == "-":
        vals.append((a - c, b) if b == d else (a * d - c * b, b * d))
    elif op == "*":
        vals.append((a * c, b * d))
    elif c == 0:
        vals.append((0, 1))
        return False
    else:
        vals.append((a * d, b * c))
    return True


def _fast_value(text: str, used: list[int]):
    """Value of a plain equation (integer literals, binary + - * /, parentheses), or _Unusual.

    Why it exists: `ast.parse` alone costs as much as the whole `eval` scorer the public recipes
    use. This operator-precedence pass accepts a strict subset of what the `ast` path accepts
    (no newlines, no leading zeros, depth <= MAX_PAREN_DEPTH) and gives the same value and
    numbers; anything else, malformed or not, goes to the `ast` path, which names the reason.
    tests/tasks/countdown/test_verifier.py checks the two paths agree on random input.
    """
    if len(text) > MAX_EQUATION_CHARS or not _FAST_CHARS.issuperset(text):
        raise _Unusual
    vals: list = []
    ops: list[str] = []
    depth = 0
    divides = True
    operand = True  # an operand (number or "(") is expected next
    prec = _PREC
    for tok in _TOKENS.findall(text):
        if operand:
            if tok == "(":
                depth += 1
                if depth > MAX_PAREN_DEPTH:
                    raise _Unusual
                ops.append(tok)
            elif tok in prec or tok == ")" or (tok[0] == "0" and len(tok) > 1):
                raise _Unusual
            else:
                n = int(tok)
                used.append(n)
                vals.append((n, 1))
                operand = False
        elif tok in prec:
            p = prec[tok]
            while ops and ops[-1] != "(" and prec[ops[-1]] >= p:  # left-associative
                divides &= _apply(vals, ops.pop())
            ops.append(tok)
            operand = True
        elif tok == ")":
            while ops and ops[-1] != "(":
                divides &= _apply(vals, ops.pop())
            if not ops:
                raise _Unusual
            ops.pop()
            depth -= 1
        else:  # a number or "(" right after an operand
            raise _Unusual
    if operand or depth:
        raise _Unusual
    while ops:
        divides &= _apply(vals, ops.pop())
    if not divides:
        raise _Reject("division_by_zero")
    n, d = vals[0]
    return Fraction(n, d) if d != 1 else n


def verify_equation(equation: str | None, numbers, target) -> Verdict:
    """Verdict for a bare equation such as ``"(55 + 36) - (7 + 19)"`` or ``"55+36-7-19 = 65"``.

    Never raises: every failure is a `Verdict` with ``ok=False`` and a reason from `REASONS`.
    """
    return _verdict(equation, numbers, target, fast=True)


def _verdict(equation, numbers, target, fast: bool) -> Verdict:
    try:
        return _verify_equation(equation, numbers, target, fast)
    except _Reject as r:
        return Verdict(False, r.reason, None, equation if isinstance(equation, str) else None)
    except Exception:  # noqa: BLE001 - a verdict, never a crash, whatever the input
        return Verdict(False, "syntax", None, equation if isinstance(equation, str) else None)


def _verify_equation(equation, numbers, target, fast: bool = True) -> Verdict:
    if not isinstance(equation, str):
        raise _Reject("no_answer")
    # The one place that says what whitespace means. Surrounding whitespace (any kind str.strip()
    # removes) is not content and does not count against the cap; everything between the first and
    # the last other character is the equation, judged whole and counted whole, so no text after
    # a run of whitespace is ever ignored. A line break (\n or \r\n) between terms is a space
    # (Python's parser would end the expression there); any other inner whitespace is "disallowed".
    # strip() is a linear C scan: ~0.4 ms for 1 MB of ASCII whitespace.
    equation = equation.strip()
    if len(equation) > MAX_EQUATION_CHARS:
        raise _Reject("too_long")
    if "\n" in equation or "\r" in equation:
        equation = equation.replace("\r", " ").replace("\n", " ")
    if type(numbers) is list and 0 < len(numbers) <= MAX_NUMBERS and set(map(type, numbers)) == _INT_ONLY:
        nums = numbers  # the common case, checked in one C-speed pass
    else:
        if isinstance(numbers, (str, bytes)):  # list("12") would read as the numbers 1 and 2
            raise _Reject("bad_task")
        try:
            nums = [_as_int(n) for n in list(numbers)[: MAX_NUMBERS + 1]]
        except TypeError:
            raise _Reject("bad_task") from None
        if not nums or len(nums) > MAX_NUMBERS:
            raise _Reject("bad_task")
    goal = target if type(target) is int else _as_int(target)

    text = equation  # stripped above
    if not text:
        raise _Reject("empty")
    # The reference prompt's own example is "(1 + 2) / 3 = 1": accept one "= N" suffix when
    # N is literally the target; anything else after "=" is not an answer to this task.
    if "=" in text:
        lhs, sep, rhs = text.partition("=")
        if "=" in rhs:
            raise _Reject("disallowed")
        rhs = rhs.strip()
        if not _RHS.fullmatch(rhs):
            raise _Reject("disallowed" if rhs else "syntax")
        if _LEADING_ZERO.match(rhs):
            raise _Reject("syntax")
        if int(rhs) != goal:
            raise _Reject("wrong_rhs")
        text = lhs.strip()
        if not text:
            raise _Reject("empty")
    used: list[int] = []
    try:
        if not fast or "**" in text or "//" in text:  # common malformations: straight to the reason
            raise _Unusual
        value = _fast_value(text, used)
    except _Unusual:
        used = []
        _check_shape(text)
        try:
            tree = ast.parse(text, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            raise _Reject("syntax") from None
        value = _eval(tree.body, used)
    if type(value) is not Fraction:
        value = _int_fraction(value)
    if sorted(used) != sorted(nums):
        return Verdict(False, "wrong_numbers", value, text)
    if value != goal:
        return Verdict(False, "wrong_value", value, text)
    return Verdict(True, "ok", value, text)


def verify(completion: str | None, numbers, target) -> Verdict:
    """Verdict for a model completion: the equation is the text of the last answer block."""
    answer = extract_answer(completion)
    if answer is None:
        return _NO_ANSWER
    return verify_equation(answer, numbers, target)
