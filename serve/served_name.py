"""The name a model is served under (/v1/models): the run's name rather than "final". Which
directory a `--model` path means is the run directory's rule (common.run_dir.resolve_model_dir).

    >>> served_name("runs/tiny-r1-countdown/final")
    'tiny-r1-countdown'
    >>> served_name("runs/tiny-r1-countdown/checkpoint-200")
    'tiny-r1-countdown-checkpoint-200'
"""

from __future__ import annotations

from pathlib import Path

from common.run_dir import FINAL, checkpoint_step


def served_name(model_dir: str | Path) -> str:
    """A readable model name for /v1/models: the run's name rather than 'final'."""
    p = Path(model_dir)
    if p.name == FINAL:
        return p.parent.name or "model"
    if checkpoint_step(p) is not None and p.parent.name:
        return f"{p.parent.name}-{p.name}"
    return p.name or "model"
