"""The environment every vLLM start of the project gets (server, vllm evaluation backend, tests,
benchmarks): a persistent compile cache outside the repository, so a second start skips the ~50 s
torch.compile of the CPU kernels, and on a CPU a 1 GiB KV cache, plenty for small models. Values
already set in the environment win."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

VLLM_CACHE_ROOT = Path.home() / ".cache" / "mini-r1" / "vllm"
CPU_KVCACHE_GIB = "1"


def vllm_env(base: Mapping[str, str] | None = None, cpu: bool = True) -> dict[str, str]:
    """`base` (default: this process's environment) with the project's vLLM defaults added; the
    compile cache folder is created."""
    env = dict(os.environ if base is None else base)
    env.setdefault("VLLM_CACHE_ROOT", str(VLLM_CACHE_ROOT))
    if cpu:
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KVCACHE_GIB)
    Path(env["VLLM_CACHE_ROOT"]).expanduser().mkdir(parents=True, exist_ok=True)
    return env
