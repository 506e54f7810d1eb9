"""What `--model` / `--baseline` name: a run directory (`cli.py train`'s output), a model
directory, a TRL output directory of checkpoints, or a hub id; resolved to the model to load,
its held-out split and its default baseline, following the run-directory contract.

    >>> resolve_target("Qwen/Qwen2.5-1.5B-Instruct").model
    'Qwen/Qwen2.5-1.5B-Instruct'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.errors import UserError
from common.model_ref import is_hub_id
from common.run_dir import (DEFAULT_RUN, find_default_run, is_model_dir, is_run_dir, newest_loadable_checkpoint,
                            read_run_json, run_model, run_path)


class EvalError(UserError):
    """A bad input or a failed run, reported to the user as one line."""


@dataclass
class Target:
    label: str
    model: str  # local directory or hub id, as the backend loads it
    test_file: str | None = None  # the run's own held-out split
    baseline: str | None = None  # the run's cold-start / base model
    run_dir: Path | None = None


def _run_target(run_dir: Path) -> Target:
    run = read_run_json(run_dir)
    model = run_model(run_dir, run)
    if model is None:
        raise EvalError(
            f"run {run_dir} has no trained model yet (no complete final/ or checkpoint-N/): "
            "train it first with `make train` or `python cli.py train`"
        )
    baseline = run.get("baseline")
    if baseline and not Path(baseline).is_absolute() and (run_dir / baseline).exists():
        baseline = str((run_dir / baseline).absolute())  # not resolve(): keep a symlink's own name
    return Target(
        label=f"{run_dir.resolve().name} ({model.name})",
        model=str(model.resolve()),
        test_file=str(run_path(run_dir, run["test_split"])) if run.get("test_split") else None,
        baseline=baseline,
        run_dir=run_dir.resolve(),
    )


def resolve_target(spec: str | Path) -> Target:
    """A `Target` for a run dir, model dir, checkpoints dir or hub id; `EvalError` otherwise."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if is_run_dir(path):
            return _run_target(path)
        if is_model_dir(path):
            return Target(label=path.resolve().name, model=str(path.resolve()))
        ckpt = newest_loadable_checkpoint(path)
        if ckpt is not None:
            return Target(label=f"{path.resolve().name} ({ckpt.name})", model=str(ckpt.resolve()))
        raise EvalError(f"{path} is neither a run directory (run.json) nor a model directory (config.json + weights)")
    if path.exists():
        raise EvalError(f"{path} is a file, not a model or run directory")
    if is_hub_id(str(spec)):
        return Target(label=str(spec), model=str(spec))
    raise EvalError(f"no such model or run directory: {spec}")


def embedded_run() -> Path:
    """The embedded default run directory, relative to the working directory or the repo."""
    run = find_default_run(require_run_json=True)
    if run is not None:
        return run
    raise EvalError(
        f"the embedded run {DEFAULT_RUN} has not been trained yet: run `make train` or "
        "`python cli.py train` first, or pass --model PATH"
    )
