"""DAPO's dynamic sampling for TRL's GRPOTrainer (TRL 1.16 has no per-batch filter).

A group whose completions all earn the same reward has advantage 0 everywhere: it adds nothing
to the gradient, yet its tokens still count in the "dapo" loss's token normaliser, so the more
groups go dead (on the embedded run, from ~40% to ~80% as the policy sharpens) the smaller the
effective step. With `dynamic_sampling: true` each step keeps only the groups with reward
spread and generates more prompts (up to `dynamic_sampling_max_rounds` generation rounds) until
the step has as many live groups as it asked for (DAPO, arXiv 2503.14476, section 3.2). A step
may end with fewer live groups when the rounds run out; one with none trains on nothing.

Single process only: TRL computes advantages over all ranks' rewards, and ranks that refill a
different number of times would wait on each other's collectives.
"""

from __future__ import annotations

import random

import torch
from trl import GRPOTrainer


def live_groups(advantages: torch.Tensor, group_size: int) -> torch.Tensor:
    """One bool per group: does any completion in it have a non-zero advantage?

    >>> live_groups(torch.tensor([0., 0., 1., -1., 0., 0.]), 2).tolist()
    [False, True, False]
    """
    return (advantages.view(-1, group_size) != 0).any(dim=1)


def refill_indices(seed: int, step: int, round_: int, n: int, size: int) -> list[int]:
    """The dataset rows a refill draws: a function of (seed, step, round) only, so a run resumed
    from a checkpoint draws the same rows as the run it continues.

    >>> refill_indices(42, 7, 1, 4, 383) == refill_indices(42, 7, 1, 4, 383)
    True
    >>> refill_indices(42, 7, 1, 4, 383) != refill_indices(42, 8, 1, 4, 383)
    True
    >>> len(set(refill_indices(0, 0, 1, 5, 5))), len(refill_indices(0, 0, 1, 8, 3))
    (5, 8)
    """
    rng = random.Random(f"{seed}:{step}:{round_}")
    return rng.sample(range(size), n) if n <= size else rng.choices(range(size), k=n)


def _pad_to(t: torch.Tensor, width: int, value, left: bool) -> torch.Tensor:
    extra = width - t.size(1)
    if extra <= 0:
        return t
    pad = torch.full((t.size(0), extra), value, dtype=t.dtype, device=t.device)
    return torch.cat([pad, t] if left else [t, pad], dim=1)


def merge_batches(parts: list[dict], pad_id: int) -> dict:
    """Concatenate TRL generation batches row-wise; prompts stay left-padded, completions right-padded."""
    out = dict(parts[0])
    for key, first in parts[0].items():
        if not isinstance(first, torch.Tensor) or first.dim() == 0:
            continue
        tensors = [p[key] for p in parts]
        if first.dim() == 2:
            width = max(t.size(1) for t in tensors)
            left = key.startswith("prompt")
            value = pad_id if key.endswith("_ids") else 0
            tensors = [_pad_to(t, width, value, left) for t in tensors]
        out[key] = torch.cat(tensors, dim=0)
    return out


def select_rows(batch: dict, rows: torch.Tensor) -> dict:
    n = batch["advantages"].size(0)
    return {k: (v[rows] if isinstance(v, torch.Tensor) and v.dim() > 0 and v.size(0) == n else v)
            for k, v in batch.items()}


class DynamicSamplingGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose training batches hold only groups with reward spread."""

    def __init__(self, *args, max_rounds: int = 4, **kwargs):
        super().__init__(*args, **kwargs)
        if self.accelerator.num_processes > 1:
            from .pipeline import TrainError

            raise TrainError("dynamic_sampling runs in a single process; add --set dynamic_sampling=false "
                             f"to train on {self.accelerator.num_processes}")
        self.max_rounds = max(1, int(max_rounds))

    def _generate_and_score_completions(self, inputs):
        batch = super()._generate_and_score_completions(inputs)
        if not self.model.training:
            return batch
        g = self.num_generations
        want = batch["advantages"].numel() // g
        parts, have, rounds = [], 0, 1
        while True:
            live = live_groups(batch["advantages"], g)
            rows = torch.nonzero(live.repeat_interleave(g)).flatten()
            if rows.numel():
                parts.append(select_rows(batch, rows[: (want - have) * g]))
                have += min(int(live.sum()), want - have)
            if have >= want or rounds >= self.max_rounds:
                break
            picks = refill_indices(self.args.seed, self.state.global_step, rounds, want, len(self.train_dataset))
            extra = [self.train_dataset[i] for i in picks]
            batch = super()._generate_and_score_completions([row for row in extra for _ in range(g)])
            rounds += 1
        self._metrics["train"]["dynamic_sampling/live_groups"].append(have / want)
        self._metrics["train"]["dynamic_sampling/rounds"].append(rounds)
        if not parts:  # nothing to learn from: one all-zero-advantage group keeps the step's shapes valid
            parts = [select_rows(batch, torch.arange(g))]
        merged = merge_batches(parts, self.processing_class.pad_token_id)
        mask = merged["completion_mask"] if "tool_mask" not in merged else merged["completion_mask"] * merged["tool_mask"]
        merged["num_items_in_batch"] = mask.sum()
        return merged
