"""Reading a puzzle typed into the demo, and drawing a random one. A typo gets one clear
sentence (PuzzleError), never a traceback in the page.

    >>> parse_puzzle("19, 36 55 7", "65")
    ([19, 36, 55, 7], 65)
    >>> parse_puzzle("19, x, 55", "65")
    Traceback (most recent call last):
    ...
    serve.puzzle.PuzzleError: numbers must be whole numbers separated by commas or spaces (got 'x')
    >>> puzzle_in_message("Using the numbers [19, 36, 55, 7], create an equation that equals 65. ...")
    ([19, 36, 55, 7], 65)
    >>> puzzle_in_message("numbers 3 4 5, target 23"), puzzle_in_message("hello")
    (([3, 4, 5], 23), None)
"""

from __future__ import annotations

import random
import re

MIN_NUMBERS, MAX_NUMBERS = 2, 6
MAX_VALUE = 10_000  # the task's numbers are 1–100 and targets 10–100; leave room, refuse nonsense


class PuzzleError(ValueError):
    pass


def _int(text: str, what: str) -> int:
    if not re.fullmatch(r"[+-]?\d{1,9}", text):
        raise PuzzleError(f"{what} must be whole numbers separated by commas or spaces (got {text[:20]!r})"
                          if what == "numbers" else f"{what} must be a whole number (got {text[:20]!r})")
    value = int(text)
    if not 0 <= value <= MAX_VALUE:
        raise PuzzleError(f"{what} must be between 0 and {MAX_VALUE} (got {value})")
    return value


def parse_puzzle(numbers_text: str | None, target_text: str | None) -> tuple[list[int], int]:
    parts = [p for p in re.split(r"[,\s;]+", (numbers_text or "").strip()) if p]
    if not parts:
        raise PuzzleError("enter the numbers, e.g. 19, 36, 55, 7")
    if len(parts) > MAX_NUMBERS:
        raise PuzzleError(f"too many numbers: {len(parts)} (at most {MAX_NUMBERS})")
    numbers = [_int(p, "numbers") for p in parts]
    if len(numbers) < MIN_NUMBERS:
        raise PuzzleError(f"enter at least {MIN_NUMBERS} numbers")
    target_text = (target_text or "").strip()
    if not target_text:
        raise PuzzleError("enter the target, e.g. 65")
    return numbers, _int(target_text, "target")


# A chat message that poses a Countdown puzzle: the training prompt's wording, or a short
# "numbers 3 4 5 ... target 23" / "... make 23" / "... reach 23".
_IN_MESSAGE = re.compile(
    r"numbers\s*:?\s*\[?\s*(\d+(?:\s*[,\s]\s*\d+)+)\s*\]?.*?(?:equals?|make|reach|target(?:\s+is)?)\s*:?\s*(\d+)",
    re.I | re.S)


def puzzle_in_message(text: str | None) -> tuple[list[int], int] | None:
    """(numbers, target) when a chat message poses a puzzle the verifier can judge, else None."""
    m = _IN_MESSAGE.search(text or "")
    if not m:
        return None
    try:
        return parse_puzzle(m.group(1), m.group(2))
    except PuzzleError:
        return None


class PuzzleSource:
    """Random puzzles from a test split (a run's test.jsonl) or, without one, the synthetic
    test tasks (`default_test_tasks`), generated lazily on the first draw."""

    def __init__(self, test_split: str | None = None, seed: int | None = None):
        self.test_split = test_split
        self.rng = random.Random(seed)
        self._tasks: list[dict] | None = None

    def tasks(self) -> list[dict]:
        if self._tasks is None:
            from tasks.countdown.data import DataError, default_test_tasks, load_split

            tasks = None
            if self.test_split:
                try:
                    tasks = load_split(self.test_split, "test")
                except DataError:
                    tasks = None  # a moved run directory still gets puzzles
            self._tasks = tasks or default_test_tasks(100)
        return self._tasks

    def draw(self) -> tuple[list[int], int]:
        row = self.rng.choice(self.tasks())
        return [int(n) for n in row["nums"]], int(row["target"])
