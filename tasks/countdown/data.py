"""Countdown data: sources (hub dataset, local file, synthetic generator), disjoint
train/val/test splits, deterministic files and a manifest.

    python cli.py data                                   # hub id (default), 50,000 / 500 / 500
    python cli.py data --source synthetic --out data/countdown
    python cli.py data --source ./my_tasks.jsonl

The synthetic generator follows the public dataset's generator (Stream-of-Search countdown,
as used for Jiayi-Pan/Countdown-Tasks-3to4): a target uniform in [10, 100], 3 or 4 numbers
uniform in [1, 100], numbers resampled until the game's integer rule reaches the target.
The test split is generated first from the seed, so the same 500 test tasks come out whatever
the train size.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
from collections.abc import Callable, Iterable
from pathlib import Path

from common.errors import UserError
from common.model_ref import DATA_FILE_SUFFIXES, hub_reachable

from .solver import reachable_integers

DEFAULT_SOURCE = "Jiayi-Pan/Countdown-Tasks-3to4"
DEFAULT_OUT = "data/countdown"
DEFAULT_SEED = 42
DEFAULT_TRAIN_SIZE = 50_000
DEFAULT_TEST_SIZE = 500
DEFAULT_VAL_SIZE = 500
SPLITS = ("train", "val", "test")


class DataError(UserError, ValueError):
    """Bad data or a source that cannot be read; the CLI prints it as one line."""


def task_key(row: dict) -> tuple:
    return (tuple(sorted(int(n) for n in row["nums"])), int(row["target"]))


def generate_task(rng: random.Random, min_target=10, max_target=100, min_n=3, max_n=4) -> dict:
    target = rng.randint(min_target, max_target)
    k = rng.randint(min_n, max_n)
    while True:
        nums = [rng.randint(1, max_target) for _ in range(k)]
        if target in reachable_integers(tuple(sorted(nums))):
            return {"nums": nums, "target": target}


def generate_tasks(n: int, seed: int = DEFAULT_SEED, exclude: set | None = None,
                   progress: Callable[[int], None] | None = None) -> list[dict]:
    """`n` distinct solvable tasks, deterministic in `seed`, none whose key is in `exclude`."""
    rng = random.Random(seed)
    seen = set(exclude or ())
    out: list[dict] = []
    while len(out) < n:
        row = generate_task(rng)
        key = task_key(row)
        if key in seen:
            continue
        seen.add(key)
        out.append(row)
        if progress and len(out) % 1000 == 0:
            progress(1000)
    return out


def normalize_row(row: dict, where: str) -> dict:
    if not isinstance(row, dict) or "nums" not in row or "target" not in row:
        raise DataError(f"{where}: every row needs 'nums' and 'target' columns")
    try:
        nums = [int(n) for n in row["nums"]]
        target = int(row["target"])
    except (TypeError, ValueError):
        raise DataError(f"{where}: 'nums' must be a list of integers and 'target' an integer") from None
    if not 2 <= len(nums) <= 8:
        raise DataError(f"{where}: a task needs 2–8 numbers, got {len(nums)}")
    return {"nums": nums, "target": target}


def read_rows(path: str | Path) -> list[dict]:
    """Rows of a local JSONL, JSON or Parquet file, checked for `nums` and `target`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            raw = pq.read_table(path).to_pylist()
        except Exception as e:  # noqa: BLE001
            raise DataError(f"{path}: not a readable Parquet file ({e.__class__.__name__})") from None
    elif suffix in (".jsonl", ".json"):
        text = path.read_text(encoding="utf-8")
        if suffix == ".json" and text.lstrip().startswith("["):
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}: invalid JSON at line {e.lineno}") from None
        else:
            raw = []
            for lineno, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    raw.append(json.loads(line))
                except json.JSONDecodeError:  # its own lineno is always 1: report the file's
                    raise DataError(f"{path}: invalid JSON at line {lineno}") from None
    else:
        raise DataError(f"{path}: unsupported file type '{suffix}' (use .jsonl, .json or .parquet)")
    rows = [normalize_row(r, f"{path} row {i}") for i, r in enumerate(raw)]
    if not rows:
        raise DataError(f"{path}: the file holds no tasks")
    return rows


def load_hub_rows(dataset_id: str) -> list[dict]:
    """Rows of a Hugging Face dataset (split 'train'), through `datasets`."""
    hint = "the hub may be unreachable from here: use --source synthetic or --source PATH.jsonl|.parquet"
    online = hub_reachable()
    if not online and not _in_local_cache(dataset_id):
        # `import datasets` alone takes seconds: fail before it when it could only fail.
        raise DataError(f"could not load hub dataset '{dataset_id}' (offline and not in the local cache); {hint}")
    try:
        if not online:
            # Offline: only a copy already in the local datasets cache can be used; no retries.
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["HF_DATASETS_OFFLINE"] = "1"
        from datasets import load_dataset

        ds = load_dataset(dataset_id, split="train")
    except Exception as e:  # noqa: BLE001 - offline, unknown id, auth: one clear line
        raise DataError(f"could not load hub dataset '{dataset_id}' ({e.__class__.__name__}); {hint}") from None
    return [normalize_row(r, f"{dataset_id} row {i}") for i, r in enumerate(ds)]


def _in_local_cache(dataset_id: str) -> bool:
    """Whether `datasets` could find a copy offline (hub cache or datasets cache)."""
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    hub = Path(os.environ.get("HF_HUB_CACHE", home / "hub")) / ("datasets--" + dataset_id.replace("/", "--"))
    local = Path(os.environ.get("HF_DATASETS_CACHE", home / "datasets")) / dataset_id.replace("/", "___")
    return hub.exists() or local.exists() or Path(dataset_id).is_dir()


def is_local_source(source: str) -> bool:
    return source != "synthetic" and (os.path.exists(source) or source.endswith(DATA_FILE_SUFFIXES))


def build_splits(source: str, train_size: int, test_size: int, val_size: int, seed: int,
                 progress: Callable[[int], None] | None = None) -> dict[str, list[dict]]:
    """Disjoint splits (no task key in two of them); test first so it is stable in the seed."""
    if min(train_size, test_size, val_size) < 0 or train_size + test_size == 0:
        raise DataError("split sizes must be non-negative and train + test > 0")
    if source == "synthetic":
        test = generate_tasks(test_size, seed)
        val = generate_tasks(val_size, seed + 1, exclude={task_key(r) for r in test})
        train = generate_tasks(train_size, seed + 2, exclude={task_key(r) for r in test + val}, progress=progress)
        return {"train": train, "val": val, "test": test}

    rows = read_rows(source) if is_local_source(source) else load_hub_rows(source)
    rng = random.Random(seed)
    rng.shuffle(rows)
    unique: dict[tuple, dict] = {}
    for r in rows:
        unique.setdefault(task_key(r), r)
    rows = list(unique.values())
    if len(rows) < test_size + val_size + 1:
        raise DataError(f"{source}: {len(rows)} distinct tasks, need more than test+val = {test_size + val_size}")
    # train takes what is left when there are fewer than asked (the manifest records the sizes)
    test, val = rows[:test_size], rows[test_size : test_size + val_size]
    train = rows[test_size + val_size : test_size + val_size + train_size]
    return {"train": train, "val": val, "test": test}


def split_sha256(path: str | Path) -> str:
    """The sha256 of a split file: what says two splits are the same tasks. Read once per version
    of the file (its size and mtime key the cache), however many models or checkpoints ask."""
    p = Path(path).resolve()
    st = p.stat()
    return _sha256_of(str(p), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_jsonl(rows: Iterable[dict], path: Path) -> str:
    """Write rows canonically (sorted keys, compact) and return the file's sha256."""
    data = "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in rows)
    raw = data.encode("utf-8")
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(raw)
    os.replace(tmp, path)
    return hashlib.sha256(raw).hexdigest()


def write_dataset(out_dir: str | Path, source: str = DEFAULT_SOURCE, train_size: int = DEFAULT_TRAIN_SIZE,
                  test_size: int = DEFAULT_TEST_SIZE, val_size: int = DEFAULT_VAL_SIZE, seed: int = DEFAULT_SEED,
                  progress: Callable[[int], None] | None = None) -> dict:
    """Build the splits, write `<split>.jsonl` and `manifest.json`; return the manifest."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create output directory {out}: {e.strerror}") from None
    if not os.access(out, os.W_OK):
        raise DataError(f"output directory is not writable: {out}")
    splits = build_splits(source, train_size, test_size, val_size, seed, progress)
    files = {}
    for name in SPLITS:
        sha = write_jsonl(splits[name], out / f"{name}.jsonl")
        files[name] = {"file": f"{name}.jsonl", "rows": len(splits[name]), "sha256": sha}
    manifest = {"source": source, "seed": seed, "splits": files,
                "requested": {"train": train_size, "val": val_size, "test": test_size}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def load_split(path_or_dir: str | Path, split: str = "test") -> list[dict]:
    """Rows of one split: a directory written by `write_dataset`, or a split file itself."""
    p = Path(path_or_dir)
    return read_rows(p / f"{split}.jsonl" if p.is_dir() else p)


def default_test_tasks(n: int = DEFAULT_TEST_SIZE, seed: int = DEFAULT_SEED) -> list[dict]:
    """The synthetic test split regenerated without touching disk (same as `cli.py data --source synthetic`)."""
    return generate_tasks(n, seed)
