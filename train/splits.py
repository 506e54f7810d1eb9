"""Which Countdown rows a run uses: find the recipe's split directory (built from its source when
absent, as `cli.py data` builds it), or split one file or hub dataset the same way; then copy the
validation and test splits into the run directory, so the run stays self-contained and movable
(run.json names them relative to it). The splits themselves are `tasks.countdown.data`'s.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from common.model_ref import looks_local_dir
from common.run_dir import split_file
from tasks.countdown.data import (DEFAULT_OUT, DataError, build_splits, is_local_source, load_split, write_dataset,
                                  write_jsonl)


@dataclass
class Splits:
    train: list[dict]
    val: list[dict]
    test: list[dict]
    source_dir: Path | None = None  # the split directory they were read from (None: split in memory)


def ensure_splits(dataset: str, source: str, train_size: int, val_size: int, test_size: int, seed: int,
                  log=print) -> Splits:
    """`dataset` is a split dir (generated from `source` if absent), a local file or a hub id."""
    p = Path(DEFAULT_OUT) if dataset == "synthetic" else Path(dataset)
    empty_dir = p.is_dir() and not any(p.iterdir())
    if (not p.exists() or empty_dir) and looks_local_dir(dataset):
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
        return Splits(splits["train"], splits["val"], splits["test"], p)
    # One file or a hub dataset id: split the way `cli.py data` does (a repeated task lands in one
    # split only; an unreachable hub is one clear line). A file gives train every task left after
    # test and val.
    train = sys.maxsize if is_local_source(dataset) else train_size
    s = build_splits(dataset, train, test_size, val_size, seed)
    return Splits(s["train"], s["val"], s["test"])


def write_split_files(splits: Splits, run_dir: Path) -> dict[str, Path]:
    """Copy the run's validation and test splits into it (and its train split when it has no file
    elsewhere); return the paths. Called by the main process only."""
    files = {name: split_file(run_dir, name) for name in ("train", "val", "test")}
    files["val"].parent.mkdir(parents=True, exist_ok=True)
    for name in ("train", "val", "test"):
        if splits.source_dir is None:
            write_jsonl(getattr(splits, name), files[name])
        elif name != "train":  # the train split can be large and is not needed to evaluate the run
            shutil.copyfile(splits.source_dir / f"{name}.jsonl", files[name])
    return files
