"""Eager attention without copying the keys and values for each query head: "grouped_eager".

Qwen2 (the tiny model, like Qwen2.5) has fewer key/value heads than query heads (2 for 4 in the
tiny model). transformers' eager attention first copies each KV head's keys and values once per query
head (`repeat_kv`), at every decode step, over the whole cache. Here the query heads that share a KV
head are multiplied with its keys as the rows of one matrix product, so nothing is copied. The
softmax, its fp32 upcast and the mask are eager's own (the mask is built by transformers' `eager_mask`).

The matrix products have other shapes than eager's, so their rounding can differ: the next-token
distributions are the same up to rounding (`tests/train/test_grouped_attention.py`). It is used by the
bf16 generation copy (GRPO's rollouts and the curriculum's samples, train/generation_copy.py), never
for validation, the final table or training. Importing this module registers it with transformers'
public `AttentionInterface` / `AttentionMaskInterface`.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, eager_mask

NAME = "grouped_eager"


def grouped_eager_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                            attention_mask: torch.Tensor | None, scaling: float, dropout: float = 0.0, **kwargs):
    batch, heads, q_len, head_dim = query.shape
    kv_heads, kv_len = key.shape[1], key.shape[2]
    group = heads // kv_heads
    # query heads h = k * group + j share KV head k (repeat_kv's order): one (group * q_len)-row product per KV head
    grouped = query.reshape(batch, kv_heads, group * q_len, head_dim)
    weights = torch.matmul(grouped, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        mask = attention_mask[:, :, None, :, :kv_len]  # (batch, 1, 1, q_len, kv_len) against every query head
        weights = (weights.view(batch, kv_heads, group, q_len, kv_len) + mask).view(batch, kv_heads, -1, kv_len)
    weights = nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    out = torch.matmul(weights, value).view(batch, heads, q_len, head_dim).transpose(1, 2).contiguous()
    return out, weights.view(batch, heads, q_len, kv_len)


AttentionInterface.register(NAME, grouped_eager_attention)
AttentionMaskInterface.register(NAME, eager_mask)
