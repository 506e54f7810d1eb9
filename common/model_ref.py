"""What a model or dataset reference names: a local path or a Hugging Face hub id — one rule for
train, evaluate and serve — and whether the hub can be reached at all.

    >>> is_hub_id("Qwen/Qwen2.5-1.5B-Instruct"), is_hub_id("./Qwen/x"), is_hub_id("runs/x/final/y")
    (True, False, False)
    >>> looks_local_dir("data/countdown"), looks_local_dir("Jiayi-Pan/Countdown-Tasks-3to4")
    (True, False)
"""

from __future__ import annotations

import os
import re

# owner/name, as the hub spells ids (one slash; letters, digits, '.', '_', '-').
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
DATA_FILE_SUFFIXES = (".jsonl", ".json", ".parquet")
_LOCAL_PREFIXES = ("data/", "runs/", "./", "../", "/", "~")


def is_hub_id(ref: str) -> bool:
    """`ref` reads as a hub id (owner/name), not as an explicitly relative path."""
    return bool(HUB_ID.match(str(ref))) and not str(ref).startswith(("./", "../"))


def looks_local_dir(ref: str) -> bool:
    """A directory we may create: not a data file name, not a hub id. `synthetic` is the default
    split directory's name."""
    if ref.endswith(DATA_FILE_SUFFIXES):
        return False
    return ref == "synthetic" or ref.startswith(_LOCAL_PREFIXES) or not HUB_ID.match(ref)


def hub_reachable(timeout: float = 3.0) -> bool:
    """One quick TCP connect to the hub endpoint, so an offline machine fails in seconds instead
    of after the hub client's retries. False when HF_HUB_OFFLINE=1."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    import socket
    from urllib.parse import urlparse

    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        with socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout):
            return True
    except OSError:
        return False
