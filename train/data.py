"""Training data: find or build the Countdown splits, then turn rows into what TRL eats —
prompt-only rows for GRPO (the reward functions get `nums`/`target` as columns) and
prompt/completion rows for the cold-start SFT (solver-written traces).

Used by `cli.py train`; the splits themselves are `tasks.countdown.data`'s.

A cold-start trace is what the model should write after the prompt's `<think>` prefill:

    >>> solver_completion([19, 36, 55, 7], 65)
    '36-19=17 55-7=48 17+48=65</think>\\n<answer>(36-19)+(55-7)</answer>'
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from tasks.countdown.data import DataError, load_split, write_dataset


@dataclass
class Splits:
    train: list[dict]
    val: list[dict]
    test: list[dict]
    val_file: str | None
    test_file: str | None


def ensure_splits(dataset: str, source: str, train_size: int, val_size: int, test_size: int, seed: int,
                  log=print) -> Splits:
    """`dataset` is a split dir (generated from `source` if absent), a local file or a hub id."""
    p = Path("data/countdown") if dataset == "synthetic" else Path(dataset)
    empty_dir = p.is_dir() and not any(p.iterdir())
    if (not p.exists() or empty_dir) and _looks_local_dir(dataset):
        if not source:
            raise DataError(f"dataset directory not found: {p}")
        log(f"data: building {source} splits into {p} (train {train_size}, val {val_size}, test {test_size})")
        write_dataset(p, source=source, train_size=train_size, test_size=test_size, val_size=val_size, seed=seed)
    if p.is_dir():
        splits = {}
        for name in ("train", "val", "test"):
            f = p / f"{name}.jsonl"
            if not f.is_file():
                raise DataError(f"{p}: missing {name}.jsonl (write it with `cli.py data --out {p}`)")
            splits[name] = load_split(p, name)
        return Splits(splits["train"], splits["val"], splits["test"], str((p / "val.jsonl").resolve()),
                      str((p / "test.jsonl").resolve()))
    from tasks.countdown.data import build_splits, is_local_source

    # One file or a hub dataset id: split the way `cli.py data` does (a repeated task lands in one
    # split only; an unreachable hub is one clear line). A file gives train every task left after
    # test and val; the splits are saved into the run dir later.
    train = sys.maxsize if is_local_source(dataset) else train_size
    s = build_splits(dataset, train, test_size, val_size, seed)
    return Splits(s["train"], s["val"], s["test"], None, None)


def _looks_local_dir(dataset: str) -> bool:
    """A path we may create (not a file name, not a hub id such as `Jiayi-Pan/Countdown-Tasks-3to4`)."""
    import re

    if dataset == "synthetic" or dataset.startswith(("data/", "runs/", "./", "../", "/", "~")):
        return not dataset.endswith((".jsonl", ".json", ".parquet"))
    return not re.fullmatch(r"[\w.-]+/[\w.-]+", dataset) and not dataset.endswith((".jsonl", ".json", ".parquet"))


def write_split_files(splits: Splits, run_dir: Path) -> None:
    """Splits that did not come from a directory are saved in the run dir, so evaluation can find them."""
    from tasks.countdown.data import write_jsonl

    d = run_dir / "data"
    if splits.test_file is None:
        d.mkdir(parents=True, exist_ok=True)
        for name in ("train", "val", "test"):
            write_jsonl(getattr(splits, name), d / f"{name}.jsonl")
        splits.val_file = str((d / "val.jsonl").resolve())
        splits.test_file = str((d / "test.jsonl").resolve())


def solver_completion(nums, target, traces: str = "first") -> str | None:
    """The cold-start target text: one step per operation, then the answer (None if unsolvable).
    `traces="diverse"` shows one of the task's solutions drawn with a seed of its own:

    >>> solver_completion([2, 3, 4], 10, "diverse") == solver_completion([2, 3, 4], 10, "diverse")
    True
    """
    import random

    from tasks.countdown.solver import all_solutions, solve

    sols = all_solutions(sorted(nums), target) if traces == "diverse" else []
    if sols:
        sol = random.Random(f"{sorted(nums)}:{target}").choice(sols)
    else:
        sol = solve(nums, target, integer_only=True) or solve(nums, target)
    if sol is None:
        return None
    return " ".join(sol.steps) + "</think>\n<answer>" + sol.expression + "</answer>"


def prompt_dataset(rows: list[dict], tokenizer, max_prompt_length: int):
    """GRPO rows: the rendered prompt (ends inside the prefilled `<think>`), plus nums/target."""
    from datasets import Dataset

    from tasks.countdown.prompt import render_prompt

    out = {"prompt": [], "nums": [], "target": []}
    for r in rows:
        prompt = render_prompt(tokenizer, r["nums"], r["target"])
        if len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) > max_prompt_length:
            continue
        out["prompt"].append(prompt)
        out["nums"].append(list(r["nums"]))
        out["target"].append(int(r["target"]))
    if not out["prompt"]:
        raise DataError(f"no prompt fits max_prompt_length={max_prompt_length} tokens")
    return Dataset.from_dict(out)


def sft_dataset(rows: list[dict], tokenizer, limit: int, traces: str = "first"):
    """Cold-start rows (prompt, completion) for TRL's SFTTrainer; loss on the completion only."""
    from datasets import Dataset

    from tasks.countdown.prompt import render_prompt

    prompts, completions = [], []
    for r in rows:
        if len(prompts) >= limit:
            break
        c = solver_completion(r["nums"], r["target"], traces)
        if c is None:
            continue
        prompts.append(render_prompt(tokenizer, r["nums"], r["target"]))
        completions.append(c)
    if not prompts:
        raise DataError("no solvable task to write cold-start traces from")
    return Dataset.from_dict({"prompt": prompts, "completion": completions})


__all__ = ["DataError", "Splits", "ensure_splits", "prompt_dataset", "sft_dataset", "solver_completion"]
