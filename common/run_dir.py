"""The run directory: what `cli.py train` writes, and what evaluate, serve and the demo read. This
module is the one place that knows its layout.

    runs/tiny-r1-countdown/          the default run (DEFAULT_RUN)
      run.json                       the contract below; paths in it are relative to the run dir
      config.yaml                    the resolved recipe
      data/{val,test}.jsonl          the splits the run used, copied in: a run dir is self-contained
      base/  sft/                    the tiny base model (embedded default only); the cold-start model
      checkpoint-N/                  Trainer checkpoints (resumable: trainer_state.json)
      final/                         the chosen model, loadable by lm-eval, vLLM and the demo
      metrics.jsonl  curves.png  summary.json  README.md (model card)
      eval/                          `cli.py evaluate`: summary.json, report.md, {model,baseline}/samples.jsonl,
                                     sweep/accuracy_vs_step.png; common/run_results.py reads a run's results

run.json keys (RUN_KEYS): `model` ("final" once training ended), `baseline` (a dir in the run or a
hub id), `test_split`, `val_split`, `recipe`, `final_from`, `global_step`. Runs written before the
splits were copied in hold absolute paths; `run_path` reads both.

Two kinds of checkpoint: *resumable* ones (`trainer_state.json` is written last by the Trainer, so a
checkpoint killed mid-write is skipped) are what `--resume` continues from; *loadable* ones (config,
weights and tokenizer) are what evaluate, serve and the demo can load.

    >>> run_path(Path("/r"), "data/test.jsonl"), run_path(Path("/r"), "/elsewhere/test.jsonl")
    (PosixPath('/r/data/test.jsonl'), PosixPath('/elsewhere/test.jsonl'))
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .errors import RunDirError

DEFAULT_RUN = Path("runs/tiny-r1-countdown")
REPO_ROOT = Path(__file__).resolve().parents[1]

RUN_JSON = "run.json"
RECIPE = "config.yaml"
DATA = "data"
FINAL = "final"
SFT = "sft"
BASE = "base"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
CURVES = "curves.png"
EVAL = "eval"  # `cli.py evaluate --model RUN`: summary.json, report.md, model/ and baseline/ (samples.jsonl)
SAMPLES = "samples.jsonl"
SWEEP = "sweep"  # eval/sweep/: `--checkpoints`, one folder per point and ACCURACY_VS_STEP
ACCURACY_VS_STEP = "accuracy_vs_step.png"
RUN_KEYS = ("model", "baseline", "test_split", "val_split", "recipe", "final_from", "global_step")

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
_CHECKPOINT = re.compile(r"checkpoint-(\d+)$")


def split_file(run_dir: Path, name: str) -> Path:
    """Where a run keeps its copy of split `name` (train, val or test)."""
    return Path(run_dir) / DATA / f"{name}.jsonl"


def is_model_dir(path: Path) -> bool:
    """A loadable Hugging Face model directory: config, weights and a tokenizer."""
    path = Path(path)
    return ((path / "config.json").is_file() and any((path / f).is_file() for f in WEIGHT_FILES)
            and any((path / f).is_file() for f in TOKENIZER_FILES))


def checkpoint_step(path: Path) -> int | None:
    m = _CHECKPOINT.search(Path(path).name)
    return int(m.group(1)) if m else None


def _checkpoints(run_dir: Path, complete) -> list[tuple[int, Path]]:
    found = []
    for p in Path(run_dir).glob("checkpoint-*"):
        step = checkpoint_step(p)
        if step is not None and p.is_dir() and complete(p):
            found.append((step, p))
    return sorted(found)


def resumable_checkpoints(run_dir: Path) -> list[Path]:
    """The checkpoint-N dirs the Trainer finished writing (trainer_state.json), by step."""
    return [p for _, p in _checkpoints(run_dir, lambda p: (p / "trainer_state.json").is_file())]


def newest_resumable_checkpoint(run_dir: Path) -> Path | None:
    found = resumable_checkpoints(run_dir)
    return found[-1] if found else None


def loadable_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint-N a model loader can load, by step (a half-written one is skipped)."""
    return _checkpoints(run_dir, is_model_dir)


def newest_loadable_checkpoint(run_dir: Path) -> Path | None:
    found = loadable_checkpoints(run_dir)
    return found[-1][1] if found else None


def update_json(p: Path, fields: dict) -> dict:
    """Merge `fields` into the JSON object at `p` (created if absent), replaced atomically."""
    data = json.loads(p.read_text()) if p.is_file() else {}
    data.update(fields)
    tmp = p.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, p)
    return data


def read_json_or_empty(p: Path) -> dict:
    """The JSON object in `p`, or {} when it is missing, unreadable or not an object (a run still
    being written, an old run): for readers that show what there is."""
    try:
        data = json.loads(Path(p).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def write_run_json(run_dir: Path, **fields) -> dict:
    """Add `fields` (RUN_KEYS only) to run.json; a path inside the run dir is stored relative to it."""
    unknown = set(fields) - set(RUN_KEYS)
    if unknown:
        raise ValueError(f"not run.json keys: {sorted(unknown)}")
    return update_json(Path(run_dir) / RUN_JSON, {k: relative_to_run(run_dir, v) for k, v in fields.items()})


def read_run_json(run_dir: Path) -> dict:
    """run.json as a dict; `RunDirError` when it is unreadable."""
    p = Path(run_dir) / RUN_JSON
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise RunDirError(f"{p} is unreadable ({e.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise RunDirError(f"{p} is unreadable (not a JSON object)")
    return data


def is_run_dir(path: Path) -> bool:
    return (Path(path) / RUN_JSON).is_file()


def relative_to_run(run_dir: Path, value):
    """A `Path` inside the run dir as a path relative to it (so the run can move), whether the run dir
    was given relative to the working directory or absolute; other paths as strings; anything else
    (names such as "final", hub ids) as is."""
    if not isinstance(value, Path):
        return value
    try:
        return str(value.resolve().relative_to(Path(run_dir).resolve()))
    except ValueError:
        return str(value)


def run_path(run_dir: Path, value: str | None) -> Path | None:
    """A path that run.json holds, as a path to open (relative ones are relative to the run dir)."""
    return None if not value else Path(run_dir) / value


def run_split(run_dir: Path, key: str = "test_split") -> Path | None:
    """The run's own split file (`test_split` or `val_split`), None when run.json names none."""
    return run_path(run_dir, read_run_json(run_dir).get(key))


def run_model(run_dir: Path, info: dict | None = None) -> Path | None:
    """The model a run stands for: run.json's `model` when loadable, else its newest loadable
    checkpoint (training still going), else None. `info`: run.json when the caller has read it."""
    model = run_path(run_dir, (read_run_json(run_dir) if info is None else info).get("model"))
    if model is not None and is_model_dir(model):
        return model
    return newest_loadable_checkpoint(run_dir)


def resolve_model_dir(path: str | Path) -> Path:
    """The loadable model directory `path` stands for: a model dir itself, a run dir's model, or the
    newest checkpoint of a bare output_dir of TRL checkpoints. `RunDirError` naming what is missing."""
    p = Path(path).expanduser()
    if not p.exists():
        raise RunDirError(f"model path does not exist: {p}")
    if not p.is_dir():
        raise RunDirError(f"model path is not a directory: {p}")
    if is_run_dir(p):
        model = run_model(p)
        if model is None:
            raise RunDirError(
                f"run directory {p} has no finished model ('model' in run.json) and no complete checkpoint-N yet")
        return model.resolve()
    if is_model_dir(p):
        return p.resolve()
    ckpt = newest_loadable_checkpoint(p)
    if ckpt is not None:
        return ckpt.resolve()
    raise RunDirError(
        f"{p} is neither a model directory (config.json + weights + tokenizer) nor a run directory (run.json)")


def find_default_run(require_run_json: bool = False) -> Path | None:
    """DEFAULT_RUN under the working directory, else under the repository; None when neither has it
    (with `require_run_json`, a run.json too)."""
    for base in (Path.cwd(), REPO_ROOT):
        run = base / DEFAULT_RUN
        if (run / RUN_JSON).is_file() if require_run_json else run.exists():
            return run
    return None
