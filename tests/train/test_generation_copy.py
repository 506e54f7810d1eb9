"""GRPO's rollouts from a bf16 copy of the policy (train/generation_copy.py, the embedded recipe's
`generation_dtype: bfloat16`): the copy follows the master weights at every generation, samples what
the fp32 policy samples up to bf16 rounding, is used for the rollouts only (validation scores the
fp32 model), and leaves the model as it found it."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from train import generation_copy
from train.config import ConfigError, resolve
from train.generation_copy import generating_with, generation_model, refresh


def next_token_logprobs(model, input_ids):
    with torch.no_grad():
        return model(input_ids=input_ids).logits[:, -1].float().log_softmax(-1)


def test_the_copy_follows_the_master_weights_at_each_generation(taught_model_dir):
    """After an optimizer step moves the master weights, a stale copy samples another policy; the
    refreshed copy's next-token distribution is the master's up to bf16 rounding."""
    master = AutoModelForCausalLM.from_pretrained(taught_model_dir, dtype=torch.float32)
    copy = generation_model(master)
    assert copy.dtype == torch.bfloat16
    torch.manual_seed(0)
    ids = torch.randint(0, master.config.vocab_size - 2, (32, 12))
    with torch.no_grad():
        for p in master.parameters():  # an "optimizer step" on the master weights
            p.add_(torch.randn_like(p) * 0.05)
    stale = (next_token_logprobs(copy, ids).exp() - next_token_logprobs(master, ids).exp()).abs().sum(-1) / 2
    refresh(copy, master)
    fresh = (next_token_logprobs(copy, ids).exp() - next_token_logprobs(master, ids).exp()).abs().sum(-1) / 2
    # total variation distance between the copy's and the master's next-token distributions, mean of 32 contexts
    assert fresh.mean() < 0.02, fresh
    assert stale.mean() > 5 * fresh.mean(), (stale, fresh)


def test_greedy_rollouts_match_the_fp32_policy(taught_model_dir, countdown_data_dir):
    """The taught model decodes the same greedy completions of its tasks from the copy as from its fp32
    weights, and the copy solves what the fp32 model solves."""
    from tasks.countdown.data import load_split
    from tests.conftest import TAUGHT_ROWS
    from train.greedy_eval import generate_completions, score_generation
    from train.modeling import load_tokenizer

    tok = load_tokenizer(str(taught_model_dir))
    master = AutoModelForCausalLM.from_pretrained(taught_model_dir, dtype=torch.float32).eval()
    rows = load_split(countdown_data_dir, "train")[TAUGHT_ROWS]

    def greedy(model):
        return [t for _, texts in generate_completions(model, tok, rows, len(rows), max_new_tokens=48,
                                                       do_sample=False) for t in texts]

    fp32, bf16 = greedy(master), greedy(generation_model(master))
    assert sum(a == b for a, b in zip(fp32, bf16)) >= len(rows) - 1, list(zip(fp32, bf16))
    solved = [sum(score_generation(r, t)["ok"] for r, t in zip(rows, texts)) for texts in (fp32, bf16)]
    assert solved[0] >= 4 and abs(solved[0] - solved[1]) <= 1, solved


@pytest.fixture
def generate_calls(monkeypatch):
    """Counts `generate` calls on the bf16 copy."""
    calls = {"bf16": 0}
    original = generation_model

    def counting_generation_model(model, *a, **k):
        copy = original(model, *a, **k)
        inner = copy.generate

        def generate(*a, **k):
            calls["bf16"] += 1
            return inner(*a, **k)

        copy.generate = generate
        return copy

    monkeypatch.setattr(generation_copy, "generation_model", counting_generation_model)
    return calls


def test_generating_with_restores_the_model():
    class Model:
        def generate(self):
            return "own"

    m = Model()
    with generating_with(m, Model()):
        assert "generate" in vars(m)
    assert "generate" not in vars(m) and m.generate() == "own"
    with pytest.raises(RuntimeError), generating_with(m, Model()):
        raise RuntimeError("a failed rollout")
    assert "generate" not in vars(m)


def test_grpo_rolls_out_from_the_copy_and_validates_the_fp32_model(shrunk_recipe, generate_calls, monkeypatch):
    """Two real GRPO steps (TRL, dynamic sampling) with generation_dtype=bfloat16: every rollout
    comes from the copy, the validation passes do not."""
    import train.greedy_eval as greedy_eval
    from train.pipeline import run

    val_dtypes = []
    original = greedy_eval.generate_completions

    def recording(model, *a, **k):
        val_dtypes.append(model.dtype)
        return original(model, *a, **k)

    monkeypatch.setattr(greedy_eval, "generate_completions", recording)
    cfg = resolve(shrunk_recipe(generation_dtype="bfloat16", dynamic_sampling=True, dynamic_sampling_max_rounds=2,
                                reward_funcs=["format", "equation"]))
    summary = run(cfg)
    assert summary["global_step"] == 2
    steps = [json.loads(x) for x in (cfg.output_dir / "metrics.jsonl").read_text().splitlines()]
    rounds = sum(s["sampling_rounds"] for s in steps if "sampling_rounds" in s)
    assert generate_calls["bf16"] == rounds >= 2, (generate_calls, rounds)
    assert val_dtypes and set(val_dtypes) == {torch.float32}, val_dtypes


def test_the_recipe_key_is_for_cpu_runs_without_vllm(shrunk_recipe):
    with pytest.raises(ConfigError, match="generation_dtype=bfloat16 is for CPU runs"):
        resolve(shrunk_recipe(generation_dtype="bfloat16", use_cpu=False, bf16=False))
    with pytest.raises(ConfigError, match="generation_dtype=bfloat16 is for CPU runs"):
        resolve(shrunk_recipe(generation_dtype="bfloat16", use_peft=True))
    with pytest.raises(ConfigError, match="generation_dtype"):
        resolve(shrunk_recipe(generation_dtype="float16"))
    assert resolve("train/recipes/tiny-cpu.yaml").script.generation_dtype == "bfloat16"


def test_zero3_is_refused_before_any_process_starts(shrunk_recipe):
    from train.launch import ACCELERATE_DIR, check_launch

    cfg = resolve(shrunk_recipe(generation_dtype="bfloat16"))
    with pytest.raises(ConfigError, match="ZeRO-3"):
        check_launch(cfg, 2, ACCELERATE_DIR / "zero3.yaml")
    check_launch(cfg, 2, ACCELERATE_DIR / "zero2.yaml")  # every weight in each process: allowed


def test_the_copy_refuses_a_zero3_shard():
    with pytest.raises(ConfigError, match="ZeRO-3"):
        generation_copy.check_sharding(3)
    generation_copy.check_sharding(2)
    generation_copy.check_sharding(None)


def test_the_curriculum_samples_the_same_policy_in_bf16(taught_model_dir, countdown_data_dir):
    """The curriculum loads the policy as the rollouts run it: in bf16 it finds the taught tasks solved
    about as often as in fp32 (8 samples each at temperature 1.0; fp32 solves most of them most of the time)."""
    from tasks.countdown.data import load_split
    from tests.conftest import TAUGHT_ROWS
    from train.curriculum import sample_pass_counts
    from train.generation_copy import load_for_generation
    from train.modeling import load_tokenizer

    tok = load_tokenizer(str(taught_model_dir))
    rows = load_split(countdown_data_dir, "train")[TAUGHT_ROWS]
    hits = {}
    for dtype in ("auto", "bfloat16"):
        model = load_for_generation(str(taught_model_dir), dtype)
        assert model.dtype == (torch.bfloat16 if dtype == "bfloat16" else torch.float32)
        hits[dtype] = sample_pass_counts(model, tok, rows, 8, 1.0, 48, seed=0)
    # 64 samples each: a sum's sd is ~3, so 10 apart would be a different policy
    assert sum(hits["auto"]) >= 30 and abs(sum(hits["auto"]) - sum(hits["bfloat16"])) <= 10, hits


def test_the_copy_leaves_the_policys_attention_alone(tiny_model_dir, monkeypatch):
    """The copy's eager attention is its own: the training model keeps the attention its recipe chose
    (SDPA here: its forward still goes through torch's scaled_dot_product_attention)."""
    master = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation="sdpa")
    generation_model(master)
    calls = []
    sdpa = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention",
                        lambda *a, **k: calls.append(1) or sdpa(*a, **k))
    with torch.no_grad():
        master(input_ids=torch.ones(1, 4, dtype=torch.long))
    assert len(calls) == master.config.num_hidden_layers
