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

from pathlib import Path


def mean_state_dicts(states: list[dict]) -> dict:
    """Key-wise mean in float32 (bf16 checkpoints would lose precision summing in bf16)."""
    import torch

    if not states:
        raise ValueError("no state dicts to average")
    keys = set(states[0])
    for sd in states[1:]:
        if set(sd) != keys:
            raise ValueError("checkpoints to average have different parameter names")
    return {k: torch.stack([sd[k].float() for sd in states]).mean(0) for k in states[0]}


def average_checkpoints(paths: list[Path], dtype: str | None = None):
    """A model whose weights are the mean of the full-model checkpoints at `paths`."""
    import torch
    from transformers import AutoModelForCausalLM

    models = [AutoModelForCausalLM.from_pretrained(p, dtype=torch.float32) for p in paths]
    mean = mean_state_dicts([m.state_dict() for m in models])
    model = models[0]
    model.load_state_dict(mean)  # tied embeddings: both names carry the same mean
    if dtype and dtype != "auto":
        model = model.to(getattr(torch, dtype))
    return model


def full_model_checkpoints(run_dir: Path) -> list[Path]:
    """The run's complete checkpoints that hold a whole model (not a LoRA adapter), by step."""
    out = []
    for p in run_dir.glob("checkpoint-*"):
        step = p.name.removeprefix("checkpoint-")
        if step.isdigit() and (p / "trainer_state.json").is_file() and (p / "config.json").is_file() \
                and not (p / "adapter_config.json").exists():
            out.append((int(step), p))
    return [p for _, p in sorted(out)]


__all__ = ["average_checkpoints", "full_model_checkpoints", "mean_state_dicts"]
