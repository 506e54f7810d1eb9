"""Which model directory a path means: a checkpoint directory is itself, a run directory
(`runs/<name>/`, written by `cli.py train`) means run.json's "model", or, before training has
finished, its newest *complete* `checkpoint-N`. Serve and demo share this so both load the
same weights.

    >>> served_name("runs/tiny-r1-countdown/final")
    'tiny-r1-countdown'
    >>> served_name("runs/tiny-r1-countdown/checkpoint-200")
    'tiny-r1-countdown-checkpoint-200'
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
_CHECKPOINT = re.compile(r"checkpoint-(\d+)$")


def is_model_dir(path: Path) -> bool:
    """A loadable Hugging Face model directory: config, weights and a tokenizer."""
    return (
        (path / "config.json").is_file()
        and any((path / f).is_file() for f in WEIGHT_FILES)
        and any((path / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json"))
    )


def loadable_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every complete checkpoint-N, by step (a half-written one is skipped)."""
    found = []
    for p in Path(run_dir).glob("checkpoint-*"):
        m = _CHECKPOINT.search(p.name)
        if m and p.is_dir() and is_model_dir(p):
            found.append((int(m.group(1)), p))
    return sorted(found)


def newest_checkpoint(run_dir: Path) -> Path | None:
    """The complete checkpoint-N with the largest N (a half-written one is skipped)."""
    found = loadable_checkpoints(run_dir)
    return found[-1][1] if found else None


def resolve_model_dir(path: str | Path) -> Path:
    """The model directory `path` stands for; a click error naming what is missing otherwise."""
    p = Path(path).expanduser()
    if not p.exists():
        raise click.ClickException(f"model path does not exist: {p}")
    if not p.is_dir():
        raise click.ClickException(f"model path is not a directory: {p}")
    run_json = p / "run.json"
    if run_json.is_file():
        try:
            run = json.loads(run_json.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise click.ClickException(f"{run_json}: unreadable ({e.__class__.__name__})") from None
        model = run.get("model") if isinstance(run, dict) else None
        if model and is_model_dir(p / model):
            return (p / model).resolve()
        ckpt = newest_checkpoint(p)
        if ckpt is not None:
            return ckpt.resolve()
        raise click.ClickException(
            f"run directory {p} has no finished model ('model' in run.json) and no complete checkpoint-N yet"
        )
    if is_model_dir(p):
        return p.resolve()
    ckpt = newest_checkpoint(p)  # a bare output_dir of TRL checkpoints
    if ckpt is not None:
        return ckpt.resolve()
    raise click.ClickException(
        f"{p} is neither a model directory (config.json + weights + tokenizer) nor a run directory (run.json)"
    )


def served_name(model_dir: str | Path) -> str:
    """A readable model name for /v1/models: the run's name rather than 'final'."""
    p = Path(model_dir)
    if p.name == "final":
        return p.parent.name or "model"
    if _CHECKPOINT.search(p.name) and p.parent.name:
        return f"{p.parent.name}-{p.name}"
    return p.name or "model"
