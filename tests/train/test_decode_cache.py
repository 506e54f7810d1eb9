"""The copy-free KV cache (train/decode_cache.py) changes nothing `generate` returns: the same tokens
as transformers' own cache, greedy and sampled, fp32 and the bf16 generation copy, with left-padded
prompts of several lengths and several samples a prompt, as the curriculum, the rollouts and
validation call it."""

from __future__ import annotations

import types

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache
from transformers.cache_utils import DynamicLayer

from tasks.countdown.data import load_split
from train.decode_cache import BufferLayer, cache_kwargs, growing_cache
from train.generation_copy import GENERATION_ATTENTION, generating_with, generation_model
from train.greedy_eval import generate_completions


def generate(model, enc, tokenizer, cache, **kw):
    torch.manual_seed(0)
    with torch.inference_mode():
        return model.generate(**enc, pad_token_id=tokenizer.pad_token_id, past_key_values=cache, **kw)


@pytest.fixture(scope="module")
def prompts(taught_model_dir, countdown_data_dir):
    from tasks.countdown.prompt import render_prompt

    tok = AutoTokenizer.from_pretrained(taught_model_dir)
    tok.padding_side = "left"
    rows = load_split(countdown_data_dir, "train")[:24]
    enc = tok([render_prompt(tok, r["nums"], r["target"]) for r in rows], return_tensors="pt", padding=True,
              add_special_tokens=False)
    assert len(set(enc["attention_mask"].sum(1).tolist())) > 1  # left padding is exercised
    return tok, enc


@pytest.mark.parametrize("dtype,attention", [(torch.float32, "eager"), (torch.float32, "sdpa"),
                                             (torch.bfloat16, GENERATION_ATTENTION)])
@pytest.mark.parametrize("sampled", [False, True], ids=["greedy", "sampled"])
def test_same_tokens_as_transformers_cache(taught_model_dir, prompts, dtype, attention, sampled):
    tok, enc = prompts
    model = AutoModelForCausalLM.from_pretrained(taught_model_dir, dtype=dtype, attn_implementation=attention).eval()
    # 150 new tokens: past the buffer's first capacity, so it grows (and copies) once mid-generation
    kw = dict(max_new_tokens=150, min_new_tokens=150, do_sample=sampled, num_return_sequences=4 if sampled else 1)
    if sampled:
        kw.update(temperature=1.0, top_k=0)
    ours = generate(model, enc, tok, growing_cache(), **kw)
    theirs = generate(model, enc, tok, DynamicCache(), **kw)
    assert ours.shape[1] == enc["input_ids"].shape[1] + 150
    assert torch.equal(ours, theirs)


def test_layer_recovers_after_its_tensors_are_replaced():
    """crop / reorder / batch selection replace `keys` and `values`; the next update must start
    from them, not from the stale buffer."""
    torch.manual_seed(0)
    ours, theirs = BufferLayer(), DynamicLayer()
    for step in range(3):
        k, v = torch.randn(2, 2, 5 if step == 0 else 1, 4), torch.randn(2, 2, 5 if step == 0 else 1, 4)
        ours.update(k, v)
        theirs.update(k, v)
    ours.crop(2)  # keep the first two tokens
    theirs.crop(2)
    ours.batch_select_indices(torch.tensor([1]))
    theirs.batch_select_indices(torch.tensor([1]))
    k, v = torch.randn(1, 2, 1, 4), torch.randn(1, 2, 1, 4)
    assert all(torch.equal(a, b) for a, b in zip(ours.update(k, v), theirs.update(k, v)))
    assert ours.get_seq_length() == theirs.get_seq_length() == 3


def test_used_by_the_generation_paths_on_cpu_only(taught_model_dir, countdown_data_dir, monkeypatch):
    model = AutoModelForCausalLM.from_pretrained(taught_model_dir, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(taught_model_dir)
    seen = []
    real = type(model).generate

    def spy(self, *args, **kwargs):
        seen.append(type(kwargs.get("past_key_values")).__name__)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(model), "generate", spy)
    rows = load_split(countdown_data_dir, "train")[:2]
    list(generate_completions(model, tok, rows, batch_size=2, max_new_tokens=2, do_sample=False))
    copy = generation_model(model)
    with generating_with(model, copy):
        model.generate(input_ids=torch.tensor([[1, 2, 3]]), max_new_tokens=2, do_sample=False)
    assert seen == ["Cache", "Cache"]
    # not on an accelerator, not for a model with sliding-window layers
    assert cache_kwargs(types.SimpleNamespace(device=torch.device("cuda"), config=model.config)) == {}
    sliding = types.SimpleNamespace(layer_types=["full_attention", "sliding_attention"])
    assert cache_kwargs(types.SimpleNamespace(device=torch.device("cpu"), config=sliding)) == {}


def test_the_recipe_key_turns_it_off(taught_model_dir):
    from train import decode_cache
    from train.config import ConfigError, resolve

    model = AutoModelForCausalLM.from_pretrained(taught_model_dir, dtype=torch.float32)
    assert resolve().script.kv_cache == "buffer"
    try:
        decode_cache.use(resolve(None, ["kv_cache=dynamic"]).script.kv_cache)
        assert cache_kwargs(model) == {}
    finally:
        decode_cache.use("buffer")
    assert type(cache_kwargs(model)["past_key_values"]).__name__ == "Cache"
    with pytest.raises(ConfigError):
        resolve(None, ["kv_cache=static"])
