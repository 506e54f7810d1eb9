"""Grouped eager attention (train/grouped_attention.py) computes eager attention's numbers: the same
function of the inputs (checked in float64 against transformers' own eager attention), and on the
taught model the same next-token distributions up to rounding. The bf16 generation copy uses it."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM
from transformers.models.qwen2.modeling_qwen2 import eager_attention_forward

from train.generation_copy import GENERATION_ATTENTION, generation_model, load_for_generation
from train.grouped_attention import NAME, grouped_eager_attention


@pytest.mark.parametrize("heads,kv_heads,q_len", [(4, 2, 1), (4, 2, 7), (6, 2, 5), (4, 4, 3), (8, 1, 1)])
def test_the_same_function_as_eager_attention(heads, kv_heads, q_len):
    torch.manual_seed(0)
    batch, kv_len, dim = 3, 9, 16
    module = torch.nn.Module().eval()
    module.num_key_value_groups = heads // kv_heads
    q = torch.randn(batch, heads, q_len, dim, dtype=torch.float64)
    k, v = (torch.randn(batch, kv_heads, kv_len, dim, dtype=torch.float64) for _ in range(2))
    # a causal mask over the last q_len keys with left padding: row b's first b keys are padding
    allowed = torch.ones(batch, 1, q_len, kv_len, dtype=torch.bool).tril(kv_len - q_len)
    for b in range(batch):
        allowed[b, :, :, :b] = False
    mask = torch.zeros(allowed.shape, dtype=torch.float64).masked_fill(~allowed, torch.finfo(torch.float64).min)
    ours, our_weights = grouped_eager_attention(module, q, k, v, mask, scaling=dim ** -0.5)
    theirs, their_weights = eager_attention_forward(module, q, k, v, mask, scaling=dim ** -0.5)
    assert ours.shape == theirs.shape == (batch, q_len, heads, dim)
    assert torch.allclose(ours, theirs, atol=1e-12) and torch.allclose(our_weights, their_weights, atol=1e-12)


def logprobs(model, ids, mask):
    positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    with torch.no_grad():
        return torch.log_softmax(model(input_ids=ids, attention_mask=mask, position_ids=positions).logits.float(), -1)


def test_the_same_distributions_on_the_taught_model(taught_model_dir, countdown_data_dir):
    """Left-padded prompts and sampled completions of the taught model: grouped attention's next-token
    log-probabilities are eager's to fp32 rounding in fp32, and in bf16 (the generation copy) no
    further from eager's than bf16 is from fp32."""
    from tasks.countdown.data import load_split
    from tasks.countdown.prompt import render_prompt
    from train.modeling import load_tokenizer

    tok = load_tokenizer(str(taught_model_dir))
    tok.padding_side = "left"
    rows = load_split(countdown_data_dir, "train")[:16]
    enc = tok([render_prompt(tok, r["nums"], r["target"]) for r in rows], return_tensors="pt", padding=True,
              add_special_tokens=False)
    models = {(dtype, attention): AutoModelForCausalLM.from_pretrained(taught_model_dir, dtype=dtype,
                                                                       attn_implementation=attention).eval()
              for dtype in (torch.float32, torch.bfloat16) for attention in ("eager", NAME)}
    torch.manual_seed(0)
    with torch.no_grad():
        out = models[torch.float32, "eager"].generate(**enc, max_new_tokens=40, min_new_tokens=40, do_sample=True,
                                                      temperature=1.0, top_k=0, pad_token_id=tok.pad_token_id)
    mask = torch.cat([enc["attention_mask"], torch.ones(len(rows), 40, dtype=torch.long)], 1)
    lp = {key: logprobs(m, out, mask)[mask.bool()] for key, m in models.items()}
    fp32_gap = (lp[torch.float32, NAME] - lp[torch.float32, "eager"]).abs().max().item()
    bf16_gap = (lp[torch.bfloat16, NAME] - lp[torch.bfloat16, "eager"]).abs().max().item()
    rounding = (lp[torch.bfloat16, "eager"] - lp[torch.float32, "eager"]).abs().max().item()
    assert fp32_gap < 1e-4 and bf16_gap <= rounding, (fp32_gap, bf16_gap, rounding)


def test_the_generation_copy_uses_it(taught_model_dir):
    """The copy's forward (and the curriculum's model's) goes through the grouped function; the policy's
    does not."""
    from transformers import AttentionInterface

    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return grouped_eager_attention(*args, **kwargs)

    master = AutoModelForCausalLM.from_pretrained(taught_model_dir, dtype=torch.float32)
    ids = torch.tensor([[5, 6, 7]])
    assert GENERATION_ATTENTION == NAME
    AttentionInterface.register(NAME, counting)
    try:
        with torch.no_grad():
            master(ids)
            assert calls == []  # the policy keeps its own attention
            generation_model(master)(ids)
            assert len(calls) == master.config.num_hidden_layers
            load_for_generation(str(taught_model_dir), "bfloat16")(ids)
    finally:
        AttentionInterface.register(NAME, grouped_eager_attention)
    assert len(calls) == 2 * master.config.num_hidden_layers
