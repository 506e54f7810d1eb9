"""DAPO's dynamic sampling for TRL's GRPOTrainer (TRL 1.16 has no per-batch filter).

A group whose completions all earn the same reward has advantage 0 everywhere: it adds nothing
to the gradient, yet its tokens still count in the "dapo" loss's token normaliser, so the more
groups go dead (on the embedded run, from ~40% to ~80% as the policy sharpens) the smaller the
effective step. With `dynamic_sampling: true` each step keeps only the groups with reward
spread and generates more prompts (up to `dynamic_sampling_max_rounds` generation rounds) until
the step has as many live groups as it asked for (DAPO, arXiv 2503.14476, section 3.2). A step
may end with fewer live groups when the rounds run out; one with none trains on nothing.

Several processes (DDP, DeepSpeed): groups may span processes, so every process gathers the
advantages and takes the same keep/refill decision; each process then keeps its own rows of the
kept groups, and a refill hands each process its slice of the same refill prompts.
"""

from __future__ import annotations

import random
import time

import torch
from trl import GRPOTrainer

from common import private_api

# Overrides GRPOTrainer's private _generate_and_score_completions and logs to its _metrics (written for
# TRL 1.16.0; common/private_api.py says why, tests/test_private_apis.py checks them under both pins).
private_api.check(__name__)


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


def rows_to_keep(advantages: torch.Tensor, group_size: int, need: int, process_index: int, local: int):
    """This process's rows of the first `need` live groups of the gathered `advantages` (groups in
    global order, possibly spanning processes), and how many groups that is.

    >>> adv = torch.tensor([0., 0., 0., 0., 1., -1., .5, -.5, 2., 0., 0., -2.])  # 3 groups of 4, 2 processes x 6
    >>> [rows_to_keep(adv, 4, 3, p, 6)[0].tolist() for p in (0, 1)], rows_to_keep(adv, 4, 3, 0, 6)[1]
    ([[4, 5], [0, 1, 2, 3, 4, 5]], 2)
    >>> [rows_to_keep(adv, 4, 1, p, 6)[0].tolist() for p in (0, 1)]
    [[4, 5], [0, 1]]
    """
    live = live_groups(advantages, group_size)
    take = torch.zeros_like(live)
    take[torch.nonzero(live).flatten()[:need]] = True
    mine = take.repeat_interleave(group_size)[process_index * local:(process_index + 1) * local]
    return torch.nonzero(mine).flatten(), int(take.sum())


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


def _loss_mask(batch: dict) -> torch.Tensor:
    return batch["completion_mask"] * batch["tool_mask"] if "tool_mask" in batch else batch["completion_mask"]


class DynamicSamplingGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose training batches hold only groups with reward spread."""

    def __init__(self, *args, max_rounds: int = 4, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_rounds = max(1, int(max_rounds))

    def _generate_and_score_completions(self, inputs):
        started = time.perf_counter()
        batch = super()._generate_and_score_completions(inputs)
        if not self.model.training:
            return batch
        acc, g = self.accelerator, self.num_generations
        local = batch["advantages"].numel()  # this process's rows; the same on every process
        mine = slice(acc.process_index * local, (acc.process_index + 1) * local)
        want = local * acc.num_processes // g  # groups per generation batch, over all processes
        parts, have, rounds = [], 0, 1
        while True:
            # Every process decides from the same gathered advantages, so all take the same number of
            # rounds and TRL's collectives inside each round stay matched.
            rows, taken = rows_to_keep(acc.gather(batch["advantages"]), g, want - have, acc.process_index, local)
            if rows.numel():
                parts.append(select_rows(batch, rows))
            have += taken
            if have >= want or rounds >= self.max_rounds:
                break
            picks = refill_indices(self.args.seed, self.state.global_step, rounds, want, len(self.train_dataset))
            extra = [self.train_dataset[i] for i in picks for _ in range(g)]
            batch = super()._generate_and_score_completions(extra[mine])
            rounds += 1
        self._metrics["train"]["dynamic_sampling/live_groups"].append(have / want)
        self._metrics["train"]["dynamic_sampling/rounds"].append(rounds)
        # the rounds' wall time (generation and rewards): the rest of a step is its loss and backward
        self._metrics["train"]["dynamic_sampling/generation_seconds"].append(time.perf_counter() - started)
        kept = sum(p["advantages"].numel() for p in parts)
        live_tokens = sum((_loss_mask(p).sum() for p in parts), torch.zeros((), device=batch["advantages"].device))
        # TRL gathers per-row metrics across processes and splits the batch into `steps_per_generation`
        # equal slices, so every process needs the same, non-zero multiple of it: zero-advantage rows fill
        # the gap. They add no policy gradient and are left out of the token normaliser.
        spg = self.args.steps_per_generation
        most = int(acc.gather(torch.tensor([kept], device=batch["advantages"].device)).max())
        filler = max(spg, -(-most // spg) * spg) - kept
        if filler:
            pad = select_rows(batch, torch.arange(filler) % local)
            pad["advantages"] = torch.zeros_like(pad["advantages"])
            parts.append(pad)
        merged = merge_batches(parts, self.processing_class.pad_token_id)
        merged["num_items_in_batch"] = acc.gather(live_tokens.reshape(1)).sum()
        return merged
