"""A KV cache for `generate` on a CPU that stops copying itself at every token.

transformers' default `DynamicCache` grows each layer's keys and values with `torch.cat`, so every
decode step copies the whole cache, twice a layer. On the tiny model's shapes (128 sequences, 4
layers, ~35 prompt tokens and 56 new ones) those copies are a fifth of an fp32 `generate` call.
`growing_cache()` writes each step into a buffer with spare room and hands attention a view of it:
the same numbers go into the same kernels, so the tokens are the same, greedy and sampled
(`tests/train/test_decode_cache.py`); `benchmarks/roofline.py` measures the gain.

`kv_cache: shared` (the recipe's) also prefills a run of identical prompts once: a GRPO group's 16
samples and the curriculum's 8 are 16 and 8 copies of one prompt, and `generate` would compute each
copy's keys and values again (an eighth of a rollout's time). The prompts' keys and values are
computed once per distinct prompt and repeated to its rows; the last prompt token then runs as
`generate`'s first step, as when a cache is reused. Rows that repeat nothing (validation, the final
table) are generated as with `buffer`. The logits are the same up to rounding (the prompt's last token
is multiplied in another shape), so the samples come from the same distribution
(`tests/train/test_decode_cache.py`).

It is used for generation on a CPU only (rollouts from the generation copy, the curriculum,
validation); on a GPU the recipes generate with vLLM, and `generate` keeps its own cache. The recipe
key `kv_cache: dynamic` turns it off for a whole run (`benchmarks/recipe_speed.py`'s baseline arm).
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, DynamicLayer

KINDS = ("shared", "buffer", "dynamic")  # the recipe key `kv_cache`'s values (train/config.py reads them here)
_kind = "shared"

# room for the new tokens of a short completion past the prompt before the buffer must grow
MIN_SPARE_TOKENS = 64


class BufferLayer(DynamicLayer):
    """A `DynamicLayer` whose keys and values are views of a buffer with spare room.

    Everything `DynamicLayer` does to `self.keys`/`self.values` (crop, reorder, batch selection)
    still works: when they are no longer the views this layer handed out, the next update copies
    them into a new buffer."""

    _key_buffer: torch.Tensor | None = None
    _value_buffer: torch.Tensor | None = None
    _keys_view: torch.Tensor | None = None
    _values_view: torch.Tensor | None = None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
            self._key_buffer = self._value_buffer = None
        kept = self._key_buffer is not None and self.keys is self._keys_view and self.values is self._values_view
        length = self.keys.shape[-2] if self.keys.numel() else 0
        new = key_states.shape[-2]
        if not kept or length + new > self._key_buffer.shape[-2]:
            capacity = max(2 * (length + new), length + new + MIN_SPARE_TOKENS)
            self._key_buffer = self._grown(self.keys, key_states, length, capacity)
            self._value_buffer = self._grown(self.values, value_states, length, capacity)
        self._key_buffer[..., length:length + new, :] = key_states
        self._value_buffer[..., length:length + new, :] = value_states
        self.keys = self._keys_view = self._key_buffer[..., :length + new, :]
        self.values = self._values_view = self._value_buffer[..., :length + new, :]
        return self.keys, self.values

    @staticmethod
    def _grown(old: torch.Tensor, states: torch.Tensor, length: int, capacity: int) -> torch.Tensor:
        buffer = states.new_empty(*states.shape[:-2], capacity, states.shape[-1])
        if length:
            buffer[..., :length, :] = old
        return buffer


def growing_cache() -> Cache:
    """An empty cache of `BufferLayer`s, one per model layer (created on first use), for `generate`'s
    `past_key_values`. A fresh one for every `generate` call."""
    return Cache(layer_class_to_replicate=BufferLayer)


def shared_prompt_cache(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Cache | None:
    """A `growing_cache()` holding every prompt but its last token, computed once for each run of
    identical consecutive rows and repeated to the run's rows; None when no row repeats the one before
    (or a prompt is a single token)."""
    if input_ids.shape[1] < 2 or input_ids.shape[0] < 2:
        return None
    repeats = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
    repeats[1:] = (input_ids[1:] == input_ids[:-1]).all(1) & (attention_mask[1:] == attention_mask[:-1]).all(1)
    if not repeats.any():
        return None
    first = (~repeats).nonzero().flatten()
    # the positions `generate` gives left-padded prompts
    positions = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
    cache = growing_cache()
    with torch.no_grad():  # not inference_mode: the cache is written in place later, maybe outside it
        model(input_ids=input_ids[first, :-1], attention_mask=attention_mask[first, :-1],
              position_ids=positions[first, :-1], past_key_values=cache, use_cache=True, logits_to_keep=1)
    cache.batch_select_indices(torch.cumsum(~repeats, 0) - 1)
    return cache


def use(kind: str) -> None:
    """The cache every later `cache_kwargs` call in this process gives: "shared" or "buffer" (ours) or
    "dynamic" (transformers' own). Set once per process from the recipe, like the torch thread count."""
    global _kind
    if kind not in KINDS:
        raise ValueError(f"kv_cache must be one of {KINDS}, not {kind!r}")
    _kind = kind


def cache_kwargs(model, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None) -> dict:
    """`generate` keyword arguments that give a CPU model with full attention in every layer the
    copy-free cache, its repeated prompts already prefilled under `kv_cache: shared` when `input_ids`
    (and their `attention_mask`) are given; nothing elsewhere (a sliding-window layer needs
    transformers' own)."""
    layer_types = getattr(model.config, "layer_types", None) or ["full_attention"]
    if _kind == "dynamic" or model.device.type != "cpu" or set(layer_types) != {"full_attention"}:
        return {}
    if _kind == "shared" and input_ids is not None:
        mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
        if (cache := shared_prompt_cache(model, input_ids, mask)) is not None:
            return {"past_key_values": cache}
    return {"past_key_values": growing_cache()}
