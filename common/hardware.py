"""Which CUDA GPUs this process can see: the one check behind `--num-gpus`, the preflight, the
evaluation backends' dtype and whether vLLM runs on the CPU."""

from __future__ import annotations


def cuda_available() -> bool:
    """True when torch is installed and sees at least one CUDA device."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available() and torch.cuda.device_count() > 0


def visible_gpus() -> tuple[int, bool, str]:
    """(CUDA devices visible, whether the first supports bf16, its name); (0, False, "") without one."""
    if not cuda_available():
        return 0, False, ""
    import torch

    return torch.cuda.device_count(), torch.cuda.is_bf16_supported(), torch.cuda.get_device_name(0)


def gpu_names() -> set[str]:
    """The names of the visible devices (one entry per kind)."""
    if not cuda_available():
        return set()
    import torch

    return {torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())}
