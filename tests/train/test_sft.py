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


def test_arithmetic_lines_join_the_traces_which_keep_the_tokens_and_loss_trl_gives_them(tiny_model_dir,
                                                                                      countdown_data_dir, tmp_path):
    from trl import SFTConfig, SFTTrainer

    from train.modeling import load_tokenizer
    from train.trl_rows import arithmetic_dataset, sft_dataset, with_arithmetic

    tok = load_tokenizer(str(tiny_model_dir))
    rows = load_split(countdown_data_dir, "train")[:16]
    traces = sft_dataset(rows, tok, 8, digits="reversed")
    mixed = with_arithmetic(traces, arithmetic_dataset(rows, tok, 4, 8, "reversed", seed=0), tok)
    args = SFTConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none", max_length=None)
    by_trl = SFTTrainer(model=str(tiny_model_dir), args=args, train_dataset=traces, processing_class=tok).train_dataset
    assert len(mixed) == 12
    assert mixed["input_ids"][:8] == by_trl["input_ids"]
    assert mixed["labels"][:8] == by_trl["labels"]  # the loss on each trace's completion and EOS alone
    assert all(-100 in labels and labels[-1] == tok.eos_token_id for labels in by_trl["labels"])


def test_a_cold_start_with_arithmetic_lines_trains(shrunk_recipe, countdown_data_dir, tmp_path):
    cfg = resolve(shrunk_recipe(cold_start_steps=2, cold_start_batch_size=4, cold_start_arithmetic_lines=4,
                                think_digits="reversed"))
    rows = load_split(countdown_data_dir, "train")[:16]
    logged = []
    out = cold_start(str(cfg.model.model_name_or_path), rows, cfg, tmp_path / "sft", log=logged.append)
    assert (out / "config.json").is_file()
    assert "and 4 lines of their steps' arithmetic" in logged[0]


@pytest.mark.parametrize("checkpointing", [False, True])
def test_the_cold_start_follows_the_recipes_gradient_checkpointing(shrunk_recipe, countdown_data_dir, tmp_path,
                                                                   monkeypatch, checkpointing):
    """`gradient_checkpointing` reaches the cold start as it reaches GRPO (TRL's SFTConfig defaults to True):
    with it each decoder layer runs again in every backward, without it once a step."""
    from transformers.models.qwen2 import modeling_qwen2

    calls = []
    forward = modeling_qwen2.Qwen2DecoderLayer.forward
    monkeypatch.setattr(modeling_qwen2.Qwen2DecoderLayer, "forward",
                        lambda *a, **k: calls.append(1) or forward(*a, **k))
    cfg = resolve(shrunk_recipe(cold_start_steps=2, cold_start_batch_size=4, gradient_checkpointing=checkpointing))
    rows = load_split(countdown_data_dir, "train")[:16]
    cold_start(str(cfg.model.model_name_or_path), rows, cfg, tmp_path / "sft", log=lambda *a: None)
    layers = 2 * 4  # 2 steps x the tiny model's 4 layers
    assert len(calls) == (2 * layers if checkpointing else layers), len(calls)
