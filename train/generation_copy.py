"""GRPO's rollouts on a CPU from a bf16 copy of the policy, as the GPU recipes roll out from vLLM's.

On the GPU recipes vLLM generates from a bf16 copy of the weights that TRL refreshes after each
optimizer step, while the loss runs on the fp32 master weights. Without vLLM, TRL calls `generate`
on the training model itself: in fp32 on a CPU, where a decode step of the embedded run (128
sequences, one new token each) is small matrix products that bf16 runs ~4x faster on a CPU with
native bf16 (`benchmarks/roofline.py`). Eager attention, because the CPU flash-attention kernel of
SDPA is ~3x slower in bf16 than in fp32 for a one-token query (`benchmarks/roofline.py`), in its
grouped form that does not copy the keys and values per query head (train/grouped_attention.py).

`generation_dtype: bfloat16` (recipe key) keeps such a copy: it is refreshed from the master weights
before every generation call and used only for GRPO's sampling (and the curriculum's, which samples
the same policy); validation and the final table score the fp32 model, as before. The loss and
its log-probabilities are computed from the master weights, as with vLLM.
"""

from __future__ import annotations

import contextlib

import torch
from trl import GRPOTrainer

from common import private_api

from .decode_cache import cache_kwargs
from .grouped_attention import NAME as GROUPED_EAGER

# Wraps GRPOTrainer's private _generate_and_score_completions (common/private_api.py says why).
private_api.check(__name__)

GENERATION_ATTENTION = GROUPED_EAGER


def generation_model(model, dtype: torch.dtype = torch.bfloat16, attention: str = GENERATION_ATTENTION):
    """A copy of `model` in `dtype` (grouped eager attention unless told), for `generate` only."""
    import copy as copying

    from transformers import AutoModelForCausalLM

    # its own config: from_config sets the attention implementation on the config it is given, and the
    # policy's would then switch the training model's attention too
    copy = AutoModelForCausalLM.from_config(copying.deepcopy(model.config), attn_implementation=attention,
                                            dtype=dtype)
    copy.generation_config = model.generation_config
    copy.load_state_dict(model.state_dict())
    return copy.eval().requires_grad_(False)


@torch.no_grad()
def refresh(copy, model) -> None:
    """The copy's weights set from `model`'s (cast to the copy's dtype)."""
    for (name, dst), (src_name, src) in zip(copy.state_dict().items(), model.state_dict().items(), strict=True):
        assert name == src_name, (name, src_name)
        dst.copy_(src)


@contextlib.contextmanager
def generating_with(model, copy):
    """Inside, `model.generate` refreshes `copy` and generates with it; outside, nothing changed."""

    def generate(*args, **kwargs):
        refresh(copy, model)
        # after the refresh: a shared prompt cache is computed by the copy's new weights. Only when `generate`
        # keeps one row per input row (TRL repeats the prompts itself); it would expand a prefilled cache wrongly.
        inputs = args[0] if args else kwargs.get("input_ids")
        config = kwargs.get("generation_config") or copy.generation_config
        if (kwargs.get("num_return_sequences") or config.num_return_sequences or 1) > 1 or (
                kwargs.get("num_beams") or config.num_beams or 1) > 1:
            inputs = None
        return copy.generate(*args, **{**cache_kwargs(copy, inputs, kwargs.get("attention_mask")), **kwargs})

    had = "generate" in vars(model)
    before = vars(model).get("generate")
    model.generate = generate
    try:
        yield
    finally:
        if had:
            model.generate = before
        else:
            del model.generate


def check_sharding(zero_stage: int | None) -> None:
    """A copy needs every weight in each process: ZeRO-3 leaves each process a shard. Called before the
    launch (train.launch, from the accelerate config) and again at the first rollout (a direct
    `accelerate launch` skips the first)."""
    if zero_stage == 3:
        from .config import ConfigError

        raise ConfigError("generation_dtype=bfloat16 needs the whole model in each process; ZeRO-3 shards it "
                          "(use ddp-cpu or zero2, or generation_dtype=auto)")


class GenerationCopyMixin:
    """Put before a GRPOTrainer class: its rollouts come from a bf16 copy (one per process)."""

    generation_copy = None

    def _generate_and_score_completions(self, inputs):
        if not self.model.training:
            return super()._generate_and_score_completions(inputs)
        policy = self.accelerator.unwrap_model(self.model)
        if self.generation_copy is None:
            plugin = self.accelerator.state.deepspeed_plugin
            check_sharding(plugin.zero_stage if plugin is not None else None)
            self.generation_copy = generation_model(policy)
        with generating_with(policy, self.generation_copy):
            return super()._generate_and_score_completions(inputs)


def load_for_generation(path: str, generation_dtype: str):
    """The model at `path` as the recipe's rollouts run it (the curriculum samples the same policy)."""
    from transformers import AutoModelForCausalLM

    if generation_dtype == "bfloat16":
        return AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16,
                                                    attn_implementation=GENERATION_ATTENTION).eval()
    return AutoModelForCausalLM.from_pretrained(path, dtype="float32").eval()


def with_generation_copy(trainer_cls: type[GRPOTrainer]) -> type[GRPOTrainer]:
    return type(f"GenerationCopy{trainer_cls.__name__}", (GenerationCopyMixin, trainer_cls), {})
