"""The cold start (train/sft.py) trains with the recipe's model settings."""

from __future__ import annotations

import pytest
import torch

from tasks.countdown.data import load_split
from train.config import resolve
from train.sft import cold_start


@pytest.mark.parametrize("attention,sdpa_calls", [("eager", False), ("sdpa", True)])
def test_the_cold_start_runs_the_recipes_attention(shrunk_recipe, countdown_data_dir, tmp_path, monkeypatch,
                                                     attention, sdpa_calls):
    """`attn_implementation` reaches the cold start as it reaches GRPO's policy: with eager attention
    no SFT step goes through torch's scaled_dot_product_attention, with SDPA every one does."""
    calls = []
    sdpa = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention",
                        lambda *a, **k: calls.append(1) or sdpa(*a, **k))
    cfg = resolve(shrunk_recipe(cold_start_steps=2, cold_start_batch_size=4, attn_implementation=attention))
    rows = load_split(countdown_data_dir, "train")[:16]
    out = cold_start(str(cfg.model.model_name_or_path), rows, cfg, tmp_path / "sft", log=lambda *a: None)
    assert (out / "config.json").is_file()
    assert bool(calls) is sdpa_calls, f"{len(calls)} SDPA calls with attn_implementation={attention}"
