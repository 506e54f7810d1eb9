"""Hooks of the lm-eval `countdown` task (countdown.yaml, beside this file): where the 500
held-out tasks come from, the prompt's pieces, and scoring — which is `verify`, the same
function that rewards training, and `is_well_formatted`, the same format check.

    lm_eval --model hf --model_args pretrained=PATH --include_path tasks \\
        --tasks countdown --apply_chat_template [--limit 20] [--gen_kwargs max_gen_toks=256] \\
        [--metadata '{"test_file": "data/countdown/test.jsonl"}']

lm-eval imports this file by path (``!function lm_eval_hooks.x``); the repo is installed
editable, so the imports of `tasks.countdown` below resolve from any working directory.

Test split, first found wins: the ``test_file`` metadata (``--metadata`` / TaskManager), the
``MINI_R1_COUNTDOWN_TEST`` environment variable, ``data/countdown/test.jsonl`` under the working
directory (what ``cli.py data`` writes), else the default 500 synthetic tasks regenerated in memory.

Scoring of one completion (the stop string ``</answer>`` is cut off by every backend, so it is put
back when an answer block was opened and never closed):

    >>> doc = {"nums": [19, 36, 55, 7], "target": 65}
    >>> process_results(doc, [" 55+36=91, 91-7-19=65</think>\\n<answer>55+36-7-19"])
    {'acc': 1, 'format_rate': 1, 'pass_at_k': 1, 'maj_at_k': 1, 'sympy_agree': (1, 1)}
    >>> process_results(doc, [["1+2=3</think><answer>1+2</answer>", "55+36=91</think><answer>55+36-7-19</answer>"]])
    {'acc': 0, 'format_rate': 1, 'pass_at_k': 1, 'maj_at_k': 0, 'sympy_agree': (2, 2)}
    >>> process_results(doc, [["</think><answer>55+36-7-19</answer>"]])  # right answer, empty think block
    {'acc': 1, 'format_rate': 0, 'pass_at_k': 1, 'maj_at_k': 1, 'sympy_agree': (1, 1)}

`sympy_agree` is (equations sympy re-evaluated, equations where it agreed) for the doc; `agreement`
aggregates it, and a disagreement stops the evaluation (`tasks/countdown/sympy_check.py`).
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

from tasks.countdown.data import DEFAULT_OUT, DataError, default_test_tasks, load_split
from tasks.countdown.prompt import ASSISTANT_PREFILL, SYSTEM_PROMPT, user_message
from tasks.countdown.rewards import is_well_formatted
from tasks.countdown.sympy_check import agrees
from tasks.countdown.verifier import extract_answer, verify

TEST_FILE_ENV = "MINI_R1_COUNTDOWN_TEST"
DEFAULT_TEST_FILE = Path(DEFAULT_OUT) / "test.jsonl"
STOP = "</answer>"


def resolve_test_file(test_file: str | os.PathLike | None = None) -> Path | None:
    """The split file to read, or None for the regenerated default tasks."""
    for candidate in (test_file, os.environ.get(TEST_FILE_ENV)):
        if candidate:
            return Path(candidate)
    return DEFAULT_TEST_FILE if DEFAULT_TEST_FILE.is_file() else None


def load_rows(test_file: str | os.PathLike | None = None) -> tuple[list[dict], str]:
    """(rows, where they came from). Raises `DataError` for a missing, empty or malformed file."""
    path = resolve_test_file(test_file)
    if path is None:
        return default_test_tasks(), "synthetic default (tasks.countdown.data.default_test_tasks)"
    return load_split(path), str(path.resolve())


def make_doc(i: int, row: dict) -> dict:
    """One lm-eval document; the prompt's fixed parts travel as columns so the YAML names them
    (``description: system_prompt``, ``gen_prefix: prefill``) instead of copying their text."""
    return {
        "id": i,
        "nums": [int(n) for n in row["nums"]],
        "target": int(row["target"]),
        "n_numbers": len(row["nums"]),
        "system_prompt": SYSTEM_PROMPT,
        "prefill": ASSISTANT_PREFILL,
    }


def load_dataset(test_file: str | None = None, **metadata):
    """`custom_dataset` hook: a DatasetDict with the one `test` split. lm-eval passes the task's
    metadata (plus ``--metadata`` and the model args) as keyword arguments."""
    import datasets

    rows, source = load_rows(test_file)
    print(f"[countdown] {len(rows)} test tasks from {source}", file=sys.stderr)
    return datasets.DatasetDict({"test": datasets.Dataset.from_list([make_doc(i, r) for i, r in enumerate(rows)])})


def doc_to_text(doc: dict) -> str:
    return user_message(doc["nums"], doc["target"])


def keep_all(resps, docs):
    """Filter that keeps every sample of a doc (lm-eval's default keeps only the first), so
    `process_results` can score pass@k and majority vote when the task is repeated."""
    return resps


def cut_at_stop(completion: str) -> str:
    """What generation with `until: ["</answer>"]` leaves of a longer completion: the text before
    the first stop string. Scorers that generate without a stop string (training's validation)
    apply it, so the same tokens get the same verdict there and here."""
    text = completion or ""
    i = text.find(STOP)
    return text if i < 0 else text[:i]


def close_answer(completion: str) -> str:
    """Put back the stop string the backend cut off, when an answer block is left open."""
    text = completion or ""
    opened = text.rfind("<answer>")
    if opened != -1 and text.find(STOP, opened) == -1:
        return text + STOP
    return text


def judged(doc: dict, completion: str):
    """(what a report needs about one completion, the verdict it was decided by): `verify` alone,
    called once."""
    text = close_answer(completion)
    verdict = verify(text, doc["nums"], doc["target"])
    return {
        "completion": text,
        "answer": extract_answer(text),
        "ok": bool(verdict.ok),
        "reason": verdict.reason,
        "well_formatted": is_well_formatted(text),
    }, verdict


def score(doc: dict, completion: str) -> dict:
    """Everything a report needs about one completion, decided by `verify` alone."""
    return judged(doc, completion)[0]


def majority_ok(scored: list[dict]) -> bool:
    """Majority vote over the answers (whitespace ignored; samples without an answer abstain),
    ties to the earliest; the winner is then judged by `verify` like any answer."""
    votes = Counter("".join(s["answer"].split()) for s in scored if s["answer"])
    if not votes:
        return False
    winner, _ = votes.most_common(1)[0]
    return next(s["ok"] for s in scored if s["answer"] and "".join(s["answer"].split()) == winner)


def process_results(doc: dict, results: list) -> dict:
    """acc and format_rate of the first sample; pass@k and maj@k over all k (equal to acc at k=1)."""
    samples = results[0]
    if isinstance(samples, str):  # lm-eval's default filter already took the first sample
        samples = [samples]
    pairs = [judged(doc, s) for s in samples]
    scored = [row for row, _ in pairs]
    checked = [agrees(verdict) for _, verdict in pairs]
    return {
        "acc": int(scored[0]["ok"]),
        "format_rate": int(scored[0]["well_formatted"]),
        "pass_at_k": int(any(s["ok"] for s in scored)),
        "maj_at_k": int(majority_ok(scored)),
        "sympy_agree": (sum(c is not None for c in checked), sum(c is True for c in checked)),
    }


def agreement(items: list[tuple[int, int]]) -> float:
    """Share of the valued equations on which sympy agreed with the verifier (NaN when none had a value).

    >>> agreement([(1, 1), (0, 0), (2, 2)])
    1.0
    """
    checked = sum(c for c, _ in items)
    return sum(a for _, a in items) / checked if checked else float("nan")


__all__ = ["DataError", "load_dataset", "doc_to_text", "keep_all", "process_results", "score", "load_rows"]
