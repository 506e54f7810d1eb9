"""DAPO's dynamic sampling for TRL's GRPOTrainer (TRL 1.16 has no per-batch filter).

A group whose completions all earn the same reward has advantage 0 everywhere: it adds nothing
to the gradient, yet its tokens still count in the "dapo" loss's token normaliser, so the more
groups go dead (on the embedded run, from ~40% to ~80% as the policy sharpens) the smaller the
effective step. With `dynamic_sampling: true` each step keeps only the groups with reward
spread and generates more prompts (up to `dynamic_sampling_max_rounds` generation rounds) until
the step has as many live groups as it asked for (DAPO, arXiv 2503.14476, section 3.2). A step
may end with fewer live groups when the rounds run out; one with none trains on nothing.

`dynamic_sampling_rounds_per_call: k` generates k rounds' prompts in one generation call (verl's
oversampled `gen_batch_size`): the prompts, the keep rule (the first live groups in round order)
and so the distribution of a step's batch are those of one round a call, while a call costs far
less than k calls where a step's cost is per-token overhead (a tiny model on a CPU: 384 rows take
~2x the time of 128, benchmarks/roofline.py). A step that would have stopped after fewer rounds
generates the rest anyway: `sampling_rounds_needed` in metrics.jsonl says how many it needed.

Several processes (DDP, DeepSpeed): groups may span processes, so every process gathers the
advantages and takes the same keep/refill decision; each process then keeps its own rows of the
kept groups, and a refill hands each process its slice of the same refill prompts. With k > 1 a
process's rows of one round must be whole groups (train.config checks), so that its rounds can sit
side by side in one call.
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


def rows_to_keep(advantages: torch.Tensor, group_size: int, need: int, process_index: int, local: int,
                 rounds: int = 1):
    """This process's rows of the first `need` live groups of the gathered `advantages`, how many
    groups that is, and the round (0-based, within this call) the last of them came from.

    The gathered rows are each process's `local` rows in process order; with `rounds` > 1 a
    process's rows are its slices of `rounds` rounds side by side (whole groups each), and groups
    are taken in round order, as one round a call would take them.

    >>> adv = torch.tensor([0., 0., 0., 0., 1., -1., .5, -.5, 2., 0., 0., -2.])  # 3 groups of 4, 2 processes x 6
    >>> [rows_to_keep(adv, 4, 3, p, 6)[0].tolist() for p in (0, 1)], rows_to_keep(adv, 4, 3, 0, 6)[1]
    ([[4, 5], [0, 1, 2, 3, 4, 5]], 2)
    >>> [rows_to_keep(adv, 4, 1, p, 6)[0].tolist() for p in (0, 1)]
    [[4, 5], [0, 1]]
    >>> adv = torch.tensor([0., 0., 1., -1., 1., -1., 0., 0.])  # groups of 2; 2 processes x 2 rounds x 1 group
    >>> [(rows_to_keep(adv, 2, 1, p, 4, rounds=2)[0].tolist(), rows_to_keep(adv, 2, 1, p, 4, rounds=2)[2])
    ...  for p in (0, 1)]  # round 0's only live group is process 1's: it goes before process 0's round 1
    [([], 0), ([0, 1], 0)]
    >>> [(rows_to_keep(adv, 2, 2, p, 4, rounds=2)[0].tolist(), rows_to_keep(adv, 2, 2, p, 4, rounds=2)[2])
    ...  for p in (0, 1)]
    [([2, 3], 1), ([0, 1], 1)]
    """
    live = live_groups(advantages, group_size)
    processes = advantages.numel() // local
    if rounds > 1:  # process-major (as gathered) -> round-major (as taken)
        live = live.view(processes, rounds, -1).transpose(0, 1).reshape(-1)
    take = torch.zeros_like(live)
    chosen = torch.nonzero(live).flatten()[:need]
    take[chosen] = True
    last_round = int(chosen[-1]) * rounds // live.numel() if chosen.numel() else rounds - 1
    if rounds > 1:
        take = take.view(rounds, processes, -1).transpose(0, 1).reshape(-1)
    mine = take.repeat_interleave(group_size)[process_index * local:(process_index + 1) * local]
    return torch.nonzero(mine).flatten(), int(take.sum()), last_round


def _pad_to(t: torch.Tensor, width: int, value, left: bool) -> torch.Tensor:
    extra = width - t.size(1)
    if extra <= 0:
        return t
    pad = torch.full((t.size(0), extra), value, dtype=t.dtype, device=t.device)
    return torch.cat([pad, t] if left else [t, pad], dim=1)


def merge_batches(parts: list[dict], pad_id: int, num_items_in_batch: torch.Tensor) -> dict:
    """Concatenate TRL generation batches row-wise; prompts stay left-padded, completions right-padded;
    `num_items_in_batch` (the loss's token normaliser) replaces the one TRL computed for its own batch."""
    out = dict(parts[0], num_items_in_batch=num_items_in_batch)
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

    def __init__(self, *args, max_rounds: int = 4, rounds_per_call: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_rounds = max(1, int(max_rounds))
        self.rounds_per_call = min(max(1, int(rounds_per_call)), self.max_rounds)

    def _refill(self, round_: int, want: int, mine: slice) -> list:
        """This process's slice of refill round `round_`'s rows: `want` prompts x num_generations."""
        picks = refill_indices(self.args.seed, self.state.global_step, round_, want, len(self.train_dataset))
        return [self.train_dataset[i] for i in picks for _ in range(self.num_generations)][mine]

    def _generate_and_score_completions(self, inputs):
        if not self.model.training:
            return super()._generate_and_score_completions(inputs)
        started = time.perf_counter()
        acc, g = self.accelerator, self.num_generations
        local = len(inputs)  # this process's rows of one round; the same on every process
        mine = slice(acc.process_index * local, (acc.process_index + 1) * local)
        want = local * acc.num_processes // g  # groups per generation batch, over all processes
        parts, have, rounds, calls, needed = [], 0, 0, 0, self.max_rounds
        # round 0 is TRL's batch; refill rounds 1, 2, ... draw their prompts from (seed, step, round)
        while have < want and rounds < self.max_rounds:
            k = min(self.rounds_per_call, self.max_rounds - rounds)
            rows = [row for r in range(rounds, rounds + k)
                    for row in (inputs if r == 0 else self._refill(r, want, mine))]
            batch = super()._generate_and_score_completions(rows)
            # Every process decides from the same gathered advantages, so all take the same number of
            # calls and TRL's collectives inside each call stay matched.
            kept, taken, last = rows_to_keep(acc.gather(batch["advantages"]), g, want - have, acc.process_index,
                                             len(rows), k)
            if kept.numel():
                parts.append(select_rows(batch, kept))
            have += taken
            if have >= want:
                needed = rounds + last + 1
            rounds, calls = rounds + k, calls + 1
        self._metrics["train"]["dynamic_sampling/live_groups"].append(have / want)
        self._metrics["train"]["dynamic_sampling/rounds"].append(rounds)
        self._metrics["train"]["dynamic_sampling/rounds_needed"].append(needed)
        self._metrics["train"]["dynamic_sampling/calls"].append(calls)
        # the calls' wall time (generation and rewards): the rest of a step is its loss and backward
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
            pad = select_rows(batch, torch.arange(filler) % batch["advantages"].numel())
            pad["advantages"] = torch.zeros_like(pad["advantages"])
            parts.append(pad)
        return merge_batches(parts, self.processing_class.pad_token_id, acc.gather(live_tokens.reshape(1)).sum())
