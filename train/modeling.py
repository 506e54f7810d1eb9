"""Model checks and loading for `cli.py train`: a hub id or a local path, validated before any
training starts (a missing/unreadable path or an unreachable hub id is one clear line).

The tiny model (`model_name_or_path: tiny`) is built locally by `train.tiny_model`.
"""

from __future__ import annotations

import os
from pathlib import Path

from common.errors import UserError
from common.model_ref import is_hub_id

from .config import TINY_MODEL


class ModelError(UserError, ValueError):
    pass


def check_model(name: str, *, strict: bool = True) -> str:
    """Return a one-line description; raise ModelError when it cannot be used (strict) or when a
    local path is broken (always)."""
    if name == TINY_MODEL:
        return "tiny: built locally by train.tiny_model"
    p = Path(name).expanduser()
    if p.exists() or not is_hub_id(name):
        if not p.exists():
            raise ModelError(f"model path not found: {p}")
        if not p.is_dir():
            raise ModelError(f"model path is not a directory: {p}")
        cfg = p / "config.json"
        if not cfg.is_file():
            raise ModelError(f"{p}: no config.json (not a transformers model directory)")
        if not os.access(cfg, os.R_OK):
            raise ModelError(f"{p}: config.json is not readable")
        try:
            import json

            json.loads(cfg.read_text())
        except (OSError, ValueError) as e:
            raise ModelError(f"{p}: unreadable config.json ({e.__class__.__name__})") from None
        weights = list(p.glob("*.safetensors")) + list(p.glob("*.bin"))
        if not weights:
            raise ModelError(f"{p}: no weights (*.safetensors / *.bin)")
        return f"local model {p}"
    # A hub id: usable if cached, or if the hub answers.
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json")
        if isinstance(cached, str):
            return f"hub model {name} (in the local cache)"
    except Exception:  # noqa: BLE001 - cache lookup is best effort
        pass
    from common.model_ref import hub_reachable

    if hub_reachable():
        return f"hub model {name} (downloaded at launch)"
    msg = f"hub model '{name}' is neither cached nor reachable from here (no network to the hub)"
    if strict:
        raise ModelError(msg + "; pass a local path with --set model_name_or_path=PATH")
    return "WARNING: " + msg


def prepare_tiny(out_dir: Path) -> Path:
    """Build the tiny model once per run dir (random weights; the cold start teaches it)."""
    from .tiny_model import build_tiny_model

    if (out_dir / "config.json").is_file():
        return out_dir
    return build_tiny_model(out_dir)


def master_dtype(dtype: str | None, use_peft: bool = False) -> str | None:
    """The dtype to load a model in that the optimizer will step.

    AdamW stepping bf16 (or fp16) parameters loses every update smaller than the dtype's
    resolution: at the reference's lr 5e-7, 10 steps changed under 1% of bf16 weights against
    ~100% of fp32 ones, i.e. a multi-process DDP run would silently not learn. DeepSpeed ZeRO keeps
    fp32 master weights itself, and a LoRA run steps only its adapters (kept in fp32 by PEFT), so
    those load as asked; otherwise the weights load in fp32 and `bf16: true` computes in bf16 under
    autocast (accelerate's mixed precision), the usual mixed-precision recipe.
    """
    from .distributed import uses_deepspeed

    if dtype in ("bfloat16", "float16") and not use_peft and not uses_deepspeed():
        return "float32"
    return dtype


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok
