"""What a training process needs to know about the other processes of its launch, in one place.

Why this module exists: under `accelerate launch` (N processes, DDP or DeepSpeed ZeRO) any code
that runs on one rank alone must not enter a collective, and every rank must enter the
collectives the others enter. Three places in a run got that wrong before (validation on rank 0
under ZeRO-3, `from_pretrained` on rank 0 under ZeRO-3's `zero.Init`, a rank-0 write the other
ranks read without waiting); the helpers here are what the pipeline uses instead.
"""

from __future__ import annotations

import os
from contextlib import contextmanager


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return rank() == 0


def uses_deepspeed() -> bool:
    """True in a process that `accelerate launch` started with a DeepSpeed config (on GPUs or CPUs)."""
    return os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() in ("1", "true", "yes")


def _dist():
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1 else None


def broadcast_from_rank0(value):
    """Rank 0's `value` on every rank (any picklable object)."""
    dist = _dist()
    if dist is None:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def sum_over_ranks(values: list[float]) -> list[float]:
    """Element-wise sum of `values` over all ranks."""
    dist = _dist()
    if dist is None:
        return list(values)
    # an object gather, not all_reduce: NCCL reduces only GPU tensors, gloo only CPU ones
    parts: list = [None] * dist.get_world_size()
    dist.all_gather_object(parts, list(values))
    return [sum(col) for col in zip(*parts)]


@contextmanager
def rank_local_loading():
    """Load models on one rank while ZeRO-3 is configured.

    With an HF DeepSpeed ZeRO-3 config active, `from_pretrained` builds the model under
    `deepspeed.zero.Init`, which partitions (and broadcasts) every parameter across all ranks: on
    one rank alone it waits forever for the others. Inside this block the config is switched off,
    so the load is an ordinary single-process one; it is restored afterwards.
    """
    from transformers.integrations import deepspeed as hf_ds

    from common import private_api

    # transformers has no public getter for the live config object (deepspeed_config() gives its dict):
    # written for transformers 5.17.0 and 5.19.0 (common/private_api.py, tests/test_private_apis.py).
    private_api.check(__name__)
    ref = hf_ds._hf_deepspeed_config_weak_ref
    obj = ref() if ref is not None else None
    hf_ds.unset_hf_deepspeed_config()
    try:
        yield
    finally:
        if obj is not None:
            hf_ds.set_hf_deepspeed_config(obj)


def leave_process_group() -> None:
    """Wait for every rank, then destroy the process group, before this process exits.

    A rank that exits with its group alive can abort at interpreter teardown (SIGABRT, "terminate
    called without an active exception": gloo's worker threads still hold tensors then); torchrun
    then kills the other ranks and the launch fails after its work is done. It happened here to the
    rank that finishes first, since rank 0 alone writes final/ after training: so the others wait
    for it at the barrier instead of leaving early. Call it only after a run succeeded: after an
    error the barrier would wait for ranks that already failed.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    if dist.get_world_size() > 1:
        dist.barrier()
    dist.destroy_process_group()
