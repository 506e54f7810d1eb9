"""GRPO's loss forward with each group's prompt computed once: `shared_prompt_loss: true`.

A GRPO batch holds each prompt `num_generations` times (the embedded recipe: 8 prompts x 16
completions), and TRL's loss runs the model over every row's prompt and completion: on the tiny
model's shapes (~38 prompt tokens, ~53 completion tokens) over a third of the loss's forward and
backward is the same prompt again. Here each distinct prompt of the batch goes through the model
once, its keys and values are repeated to its rows as a transformers `DynamicCache` (`index_select`
keeps them in the autograd graph), and the rows' completions run on top of it with
TRL's fused LM head, as a generation step reuses a prompt's cache. The positions are those TRL's
own forward gives (0, 1, ... over the padded row), so every log-probability and entropy is TRL's up
to rounding, and so is the gradient, which sums the rows' contributions into the one prompt copy
(`tests/train/test_shared_prompt_loss.py`; ~1.4x the loss's forward, backward and optimizer step,
`benchmarks/roofline.py`).

One process without DDP or DeepSpeed only (their wrappers expect one forward per backward), on a
CPU, without gradient checkpointing (a checkpointed layer is called without its cache), for models
with full attention in every layer and no images; anything else is TRL's own forward. The GPU
recipes do not set it.
"""

from __future__ import annotations

import torch
from accelerate.utils import DistributedType
from transformers import DynamicCache
from trl import GRPOTrainer

from common import private_api

# Overrides GRPOTrainer's private _get_per_token_logps_and_entropies (common/private_api.py says why).
private_api.check(__name__)


def prompt_groups(prompt_ids: torch.Tensor, prompt_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(the first row of each distinct prompt, every row's distinct-prompt number), or None when every row's prompt
    is distinct. TRL shuffles a batch's rows before the loss, so a group's rows are anywhere in it.

    >>> ids = torch.tensor([[0, 5, 6], [7, 8, 9], [0, 5, 6], [7, 8, 9], [0, 4, 6]])
    >>> first, group = prompt_groups(ids, (ids != 0).long())
    >>> first.tolist(), group.tolist()
    ([4, 0, 1], [1, 2, 1, 2, 0])
    """
    _, group = torch.unique(torch.cat([prompt_ids, prompt_mask], 1), dim=0, return_inverse=True)
    n = int(group.max()) + 1 if group.numel() else 0
    if n == prompt_ids.shape[0]:
        return None
    rows = torch.arange(len(group), device=group.device)
    first = torch.full((n,), len(group), device=group.device).scatter_reduce_(0, group, rows, reduce="amin")
    return first, group


def repeat_to_rows(cache: DynamicCache, group: torch.Tensor) -> None:
    """Each row's copy of its prompt's keys and values, row i from prompt `group[i]`. With `index_select`, not
    `DynamicCache.batch_select_indices`: that one indexes (`keys[group]`), whose backward on a CPU adds the
    rows' gradients into the prompt copy with atomic adds from every thread, in an order that follows the
    threads' timing, so the same run parted under load (and the op repeated gives hundreds of different sums).
    `index_select`'s backward adds them in row order: the same bits every time, and ~7x as fast here."""
    for layer in cache.layers:
        layer.keys = layer.keys.index_select(0, group)
        layer.values = layer.values.index_select(0, group)


def shared_prompt_logps(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, logits_to_keep: int,
                        compute_entropy: bool):
    """(per-token log-probs, entropies or None) of the last `logits_to_keep` tokens of each row, as TRL's
    `model(input_ids, attention_mask, labels, fused_lm_head=True)` gives them, or None when no prompt
    repeats. The prompt is every token before the last `logits_to_keep`; its last token runs with the
    completion, whose first token it predicts."""
    split = input_ids.shape[1] - logits_to_keep
    if split < 2:
        return None
    groups = prompt_groups(input_ids[:, :split], attention_mask[:, :split])
    if groups is None:
        return None
    first, group = groups
    cache = DynamicCache()
    model.base_model(input_ids=input_ids[first, :split - 1], attention_mask=attention_mask[first, :split - 1],
                     past_key_values=cache, use_cache=True)
    repeat_to_rows(cache, group)
    rest_ids = input_ids[:, split - 1:]
    # the fused head scores labels[:, 1:]: the completion's tokens, predicted from the prompt's last token on
    labels = rest_ids.masked_fill(attention_mask[:, split - 1:] == 0, -100)
    # TRL's fused forward sets use_cache=False; the layers still read and extend the cache they are given
    out = model(input_ids=rest_ids, attention_mask=attention_mask, past_key_values=cache, labels=labels,
                fused_lm_head=True)
    return out.log_probs[:, -logits_to_keep:], (out.entropy[:, -logits_to_keep:] if compute_entropy else None)


def applies(trainer, model, kwargs: dict) -> bool:
    """Whether this forward may share prompts: one plain process on a CPU, full attention, text only."""
    layer_types = getattr(model.config, "layer_types", None) or ["full_attention"]
    return (trainer.accelerator.distributed_type == DistributedType.NO and model.device.type == "cpu"
            and set(layer_types) == {"full_attention"} and not kwargs.get("compute_aux_loss")
            and not getattr(model, "is_gradient_checkpointing", False)  # its layers would drop the cache
            and all(v is None for k, v in kwargs.items() if k not in ("batch_size", "compute_entropy",
                                                                       "compute_aux_loss")))


class SharedPromptLossMixin:
    """Put before a GRPOTrainer class: its loss (and any re-scoring of old or reference log-probs) computes
    each group's prompt once."""

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                                           compute_entropy=False, **kwargs):
        if not applies(self, model, kwargs):
            return super()._get_per_token_logps_and_entropies(model, input_ids, attention_mask, logits_to_keep,
                                                              batch_size, compute_entropy, **kwargs)
        batch_size = batch_size or input_ids.size(0)
        logps, entropies = [], []
        for start in range(0, input_ids.size(0), batch_size):  # TRL's chunks, for the same memory peak
            ids, mask = input_ids[start:start + batch_size], attention_mask[start:start + batch_size]
            with self.accelerator.autocast():
                got = shared_prompt_logps(model, ids, mask, logits_to_keep, compute_entropy)
            if got is None:
                got = super()._get_per_token_logps_and_entropies(model, ids, mask, logits_to_keep, None,
                                                                 compute_entropy, **kwargs)[:2]
            logps.append(got[0])
            entropies.append(got[1])
        return torch.cat(logps), (torch.cat(entropies) if compute_entropy else None), None


def with_shared_prompt_loss(trainer_cls: type[GRPOTrainer]) -> type[GRPOTrainer]:
    return type(f"SharedPromptLoss{trainer_cls.__name__}", (SharedPromptLossMixin, trainer_cls), {})
