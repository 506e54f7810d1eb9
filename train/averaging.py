"""Checkpoint averaging: the uniform mean of the weights of a run's kept GRPO checkpoints.

Why: on the embedded run the greedy answer of the tiny policy flips on many tasks between
saves (val accuracy moves ±1-2 points from one save to the next), and averaging nearby points
of one trajectory cancels part of that noise (LAWA, Kaddour 2022; Sanyal et al. 2023). The
average is a candidate, not a default: `pipeline.run` keeps it as `final/` only when its greedy
accuracy on the *validation* split beats the best single checkpoint's.

    >>> import torch
    >>> mean_state_dicts([{"w": torch.tensor([1.0, 2.0])}, {"w": torch.tensor([3.0, 6.0])}])["w"].tolist()
    [2.0, 4.0]
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain
from pathlib import Path


def mean_state_dicts(states: Iterable[dict]) -> dict:
    """Key-wise mean in float32 (bf16 checkpoints would lose precision summing in bf16), as a
    running sum: one state dict is held at a time besides the sum, whatever the count."""
    total, n = None, 0
    for sd in states:
        if total is None:
            total = {k: v.detach().float().clone() for k, v in sd.items()}
        elif set(sd) != set(total):
            raise ValueError("checkpoints to average have different parameter names")
        else:
            for k in total:
                total[k] += sd[k].float()
        n += 1
    if total is None:
        raise ValueError("no state dicts to average")
    return {k: v / n for k, v in total.items()}


def average_checkpoints(paths: list[Path], dtype: str | None = None):
    """A model whose weights are the mean of the full-model checkpoints at `paths`."""
    import torch
    from transformers import AutoModelForCausalLM

    def load(p):
        return AutoModelForCausalLM.from_pretrained(p, dtype=torch.float32)

    model = load(paths[0])
    # a generator: each further checkpoint is loaded, added to the sum and dropped
    mean = mean_state_dicts(chain([model.state_dict()], (load(p).state_dict() for p in paths[1:])))
    model.load_state_dict(mean)  # tied embeddings: both names carry the same mean
    if dtype and dtype != "auto":
        model = model.to(getattr(torch, dtype))
    return model


__all__ = ["average_checkpoints", "mean_state_dicts"]
