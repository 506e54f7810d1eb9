"""The GRPO prompt filter (train/curriculum.py): real sampling on the tiny model, the keep rule
(0 < hits < k), the cached file `--resume` relies on, and the clear stop when nothing is kept."""

from __future__ import annotations

import json

import pytest

from tasks.countdown.data import load_split
from train import curriculum
from train.config import ConfigError, resolve
from train.errors import TrainError
from train.pipeline import run


def test_sampled_pass_counts_on_the_tiny_model(tiny_model_dir, countdown_data_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype="float32")
    rows = load_split(countdown_data_dir, "train")[:5]
    side = tok.padding_side
    hits = curriculum.sample_pass_counts(model, tok, rows, k=3, temperature=1.0, max_new_tokens=6, batch_prompts=2)
    # random weights and 6 tokens: no completion can be a verified answer
    assert hits == [0, 0, 0, 0, 0]
    assert tok.padding_side == side  # left padding only while sampling


def test_keeps_only_prompts_solved_sometimes_and_caches_them(tmp_path, monkeypatch, countdown_data_dir,
                                                             tiny_model_dir):
    # Mocked: the sampler (a random tiny model solves nothing); the keep rule and the cache are real.
    rows = load_split(countdown_data_dir, "train")[:6]
    monkeypatch.setattr(curriculum, "sample_pass_counts", lambda *a, **k: [0, 1, 4, 3, 0, 2])
    out = tmp_path / "grpo_prompts.jsonl"
    kept = curriculum.filter_prompts(str(tiny_model_dir), rows, pool=6, k=4, temperature=1.0, max_new_tokens=8,
                                     seed=0, out_file=out, log=lambda m: None)
    assert kept == [rows[1], rows[3], rows[5]]
    stats = json.loads(out.with_suffix(".stats.json").read_text())
    assert (stats["kept"], stats["never_solved"], stats["always_solved"]) == (3, 2, 1)
    # a second call (what --resume does) reads the file instead of sampling again
    monkeypatch.setattr(curriculum, "sample_pass_counts", lambda *a, **k: pytest.fail("sampled again"))
    assert curriculum.filter_prompts(str(tiny_model_dir), rows, pool=6, k=4, temperature=1.0, max_new_tokens=8,
                                     seed=0, out_file=out, log=lambda m: None) == kept


def test_nothing_solvable_is_a_clear_stop_before_grpo(shrunk_recipe):
    cfg = resolve(shrunk_recipe(grpo_prompt_filter="solvable_sometimes", grpo_filter_pool=4, grpo_filter_samples=2))
    with pytest.raises(TrainError, match="none of 4 prompts is solved sometimes"):
        run(cfg)
    assert not list(cfg.output_dir.glob("checkpoint-*"))


def test_unknown_filter_is_an_error_before_anything_runs(shrunk_recipe):
    recipe = shrunk_recipe(grpo_prompt_filter="sometimes")
    with pytest.raises(ConfigError, match="grpo_prompt_filter"):
        resolve(recipe)
    assert not (recipe.parent / "run").exists()
