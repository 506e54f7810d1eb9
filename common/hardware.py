"""Which CUDA GPUs this process can see: the one check behind `--num-gpus`, the preflight, the
evaluation backends' dtype and whether vLLM runs on the CPU."""

from __future__ import annotations

import os


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


def cpu_threads(requested: int = 0) -> int:
    """Torch threads for a CPU run: `requested` when > 0, else OMP_NUM_THREADS when set, else the
    cores this process may run on (its affinity mask, not the machine's count: a container or
    `taskset` can give it fewer), shared among the processes of this node (LOCAL_WORLD_SIZE under
    torchrun/accelerate). Never the load average: a run that read it after its own install took
    1 thread of 2 and trained a different recipe than the same command on an idle machine."""
    if requested > 0:
        return requested
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    local = os.environ.get("LOCAL_WORLD_SIZE", "1")
    return max(1, cores // (int(local) if local.isdigit() and int(local) > 0 else 1))


# CPU flags under which oneDNN runs bf16 matrix products natively (x86: AVX512-BF16 or AMX; Arm: the
# BF16 extension). Without one, bf16 is emulated and slower than fp32.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_flags(cpuinfo: str | None = None) -> set[str] | None:
    r"""The CPU's feature flags from /proc/cpuinfo ("flags" on x86, "Features" on Arm); None when it
    cannot be read (not Linux).

    >>> sorted(cpu_flags("processor : 0\nflags : avx2 amx_bf16\n"))
    ['amx_bf16', 'avx2']
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            return None
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return set(value.split())
    return None


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool | None:
    """Whether this CPU multiplies bf16 natively, read from /proc/cpuinfo's flags (None when it
    cannot be read: not Linux). The embedded recipe computes in bf16 like the GPU recipes; on this
    project's 2-core development CPU (AVX512-BF16) a bf16 SFT step is ~1.7x and a GRPO loss and
    backward ~2.5x faster than fp32 (benchmarks/roofline.py)."""
    flags = cpu_flags(cpuinfo)
    return None if flags is None else bool(NATIVE_BF16_FLAGS & flags)
