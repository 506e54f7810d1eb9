"""The copy-free KV cache (train/decode_cache.py) changes nothing `generate` returns: the same tokens
as transformers' own cache, greedy and sampled, fp32 and the bf16 generation copy, with left-padded
prompts of several lengths and several samples a prompt, as the curriculum, the rollouts and
validation call it. Its shared prompt prefill (`kv_cache: shared`) gives the same next-token
distributions, up to rounding, at every position of the prompt's last token and the completion."""

from __future__ import annotations

import types

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache
from transformers.cache_utils import DynamicLayer

from tasks.countdown.data import load_split
from train.decode_cache import BufferLayer, cache_kwargs, growing_cache, shared_prompt_cache
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
        cache = kwargs.get("past_key_values")
        seen.append((type(cache).__name__, cache.get_seq_length()))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(model), "generate", spy)
    rows = load_split(countdown_data_dir, "train")[:2]
    list(generate_completions(model, tok, rows, batch_size=2, max_new_tokens=2, do_sample=False))
    list(generate_completions(model, tok, rows, batch_size=2, num_return_sequences=3, max_new_tokens=2,
                              do_sample=True))
    copy = generation_model(model)
    with generating_with(model, copy):
        model.generate(input_ids=torch.tensor([[1, 2, 3]]), max_new_tokens=2, do_sample=False)
        model.generate(input_ids=torch.tensor([[1, 2, 3], [1, 2, 3]]), max_new_tokens=2, do_sample=False)
        # generate's own copies (num_return_sequences) come after the cache is made: nothing prefilled
        out = model.generate(input_ids=torch.tensor([[1, 2, 3], [1, 2, 3]]), max_new_tokens=2, do_sample=True,
                             num_return_sequences=2)
    assert out.shape == (4, 5)
    # validation's rows are distinct: nothing prefilled; the curriculum's and a group's copies share one
    assert [s[0] for s in seen] == ["Cache"] * 5
    assert seen[0][1] == 0 and seen[1][1] > 0 and seen[2][1] == 0 and seen[3][1] == 2 and seen[4][1] == 0
    # not on an accelerator, not for a model with sliding-window layers
    assert cache_kwargs(types.SimpleNamespace(device=torch.device("cuda"), config=model.config)) == {}
    sliding = types.SimpleNamespace(layer_types=["full_attention", "sliding_attention"])
    assert cache_kwargs(types.SimpleNamespace(device=torch.device("cpu"), config=sliding)) == {}


def test_the_recipe_key_turns_it_off(taught_model_dir):
    from train import decode_cache
    from train.config import ConfigError, resolve

    model = AutoModelForCausalLM.from_pretrained(taught_model_dir, dtype=torch.float32)
    assert resolve().script.kv_cache == "shared"
    twice = torch.tensor([[5, 6, 7], [5, 6, 7]])
    try:
        decode_cache.use(resolve(None, ["kv_cache=dynamic"]).script.kv_cache)
        assert cache_kwargs(model, twice) == {}
        decode_cache.use(resolve(None, ["kv_cache=buffer"]).script.kv_cache)
        assert cache_kwargs(model, twice)["past_key_values"].get_seq_length() == 0  # nothing prefilled
    finally:
        decode_cache.use("shared")
    assert cache_kwargs(model, twice)["past_key_values"].get_seq_length() == 2
    assert type(cache_kwargs(model)["past_key_values"]).__name__ == "Cache"
    with pytest.raises(ConfigError):
        resolve(None, ["kv_cache=static"])


def teacher_forced_logprobs(model, ids, mask, prompt_len, cache=None):
    """log p(next token) at the prompt's last token and every completion token, from one forward
    over the whole sequence or, with `cache` (the prompts but their last token), over the rest."""
    positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    start = 0 if cache is None else prompt_len - 1
    with torch.no_grad():
        logits = model(input_ids=ids[:, start:], attention_mask=mask, position_ids=positions[:, start:],
                       past_key_values=cache, use_cache=cache is not None).logits
    return torch.log_softmax(logits[:, prompt_len - 1 - start:].float(), -1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_shared_prompts_give_the_same_distributions(taught_model_dir, prompts, dtype):
    """A GRPO group's rows (consecutive copies of a prompt): the shared prefill's next-token
    log-probabilities match one plain forward's, to fp32 rounding in fp32 and, for the bf16 copy,
    closer than the bf16 copy itself is to the fp32 model."""
    tok, enc = prompts
    ids, mask = (enc["input_ids"].repeat_interleave(4, 0), enc["attention_mask"].repeat_interleave(4, 0))
    fp32 = AutoModelForCausalLM.from_pretrained(taught_model_dir, dtype=torch.float32,
                                                attn_implementation="eager").eval()
    model = AutoModelForCausalLM.from_pretrained(taught_model_dir, dtype=dtype, attn_implementation="eager").eval()
    out = generate(model, {"input_ids": ids, "attention_mask": mask}, tok, growing_cache(), max_new_tokens=40,
                   min_new_tokens=40, do_sample=True, temperature=1.0, top_k=0)
    full_mask = torch.cat([mask, torch.ones(len(ids), 40, dtype=mask.dtype)], 1)
    p = ids.shape[1]
    cache = shared_prompt_cache(model, ids, mask)
    assert cache.get_seq_length() == p - 1
    shared = teacher_forced_logprobs(model, out, full_mask, p, cache)
    plain = teacher_forced_logprobs(model, out, full_mask, p)
    assert shared.shape == plain.shape == (len(ids), 41, model.config.vocab_size)
    gap = (shared - plain).abs().max().item()
    if dtype == torch.float32:
        assert gap < 1e-4
    else:
        rounding = (plain - teacher_forced_logprobs(fp32, out, full_mask, p)).abs().max().item()
        assert gap <= rounding, (gap, rounding)
    # a prefill that forgot the left padding's positions would be far off
    wrong = growing_cache()
    first = torch.arange(0, len(ids), 4)
    with torch.no_grad():
        model(input_ids=ids[first, :-1], attention_mask=mask[first, :-1], past_key_values=wrong, use_cache=True)
    wrong.batch_select_indices(torch.arange(len(ids)) // 4)
    assert (teacher_forced_logprobs(model, out, full_mask, p, wrong) - plain).abs().max().item() > 10 * max(gap, 1e-3)


def test_shared_prompts_only_where_rows_repeat(taught_model_dir, prompts):
    """Validation and the final table (one row a prompt) get an empty cache: their tokens stay those
    of the plain cache. A run of copies is prefilled once: one row of model input per distinct prompt."""
    tok, enc = prompts
    model = AutoModelForCausalLM.from_pretrained(taught_model_dir, dtype=torch.float32).eval()
    ids, mask = enc["input_ids"], enc["attention_mask"]
    assert shared_prompt_cache(model, ids, mask) is None
    assert cache_kwargs(model, ids, mask)["past_key_values"].get_seq_length() == 0
    rows_in = []
    hook = model.model.embed_tokens.register_forward_hook(lambda m, args, out: rows_in.append(args[0].shape))
    try:
        cache = shared_prompt_cache(model, ids[:3].repeat_interleave(5, 0), mask[:3].repeat_interleave(5, 0))
    finally:
        hook.remove()
    assert rows_in == [torch.Size([3, ids.shape[1] - 1])]
    assert cache.layers[0].keys.shape[0] == 15


def test_curriculum_samples_unchanged_by_expanding_them_first(taught_model_dir, countdown_data_dir):
    """generate_completions now repeats each prompt itself (so the copies can share a prefill); with the
    plain copy-free cache its samples are those of `generate`'s own num_return_sequences."""
    from train import decode_cache
    from tasks.countdown.prompt import render_prompt

    model = AutoModelForCausalLM.from_pretrained(taught_model_dir, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(taught_model_dir)
    rows = load_split(countdown_data_dir, "train")[:6]
    kw = dict(max_new_tokens=30, do_sample=True, temperature=1.0, top_k=0)
    decode_cache.use("buffer")
    try:
        torch.manual_seed(0)
        batches = generate_completions(model, tok, rows, 6, num_return_sequences=4, **kw)
        ours = [t for _, texts in batches for t in texts]
    finally:
        decode_cache.use("shared")
    tok.padding_side = "left"
    enc = tok([render_prompt(tok, r["nums"], r["target"]) for r in rows], return_tensors="pt", padding=True,
              add_special_tokens=False)
    out = generate(model, enc, tok, growing_cache(), num_return_sequences=4, **kw)
    assert ours == tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
