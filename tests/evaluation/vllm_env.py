"""Environment for vLLM on a CPU machine: a 1 GiB KV cache and a persistent
compile cache, so the second start of a server or engine skips recompiling."""

from __future__ import annotations

import os
from pathlib import Path


def vllm_env() -> dict:
    cache = Path(os.environ.get("VLLM_CACHE_ROOT", Path.home() / ".cache/mini-r1/vllm"))
    cache.mkdir(parents=True, exist_ok=True)
    return dict(os.environ, VLLM_CPU_KVCACHE_SPACE=os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
                VLLM_CACHE_ROOT=str(cache))
