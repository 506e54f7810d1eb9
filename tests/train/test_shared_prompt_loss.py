"""GRPO's loss forward with each group's prompt computed once (train/shared_prompt_loss.py, the embedded
recipe's `shared_prompt_loss: true`): the same per-token log-probabilities, entropies and gradient as
TRL's own `_get_per_token_logps_and_entropies` up to rounding, on left-padded prompts of several lengths
and right-padded completions, in fp32 and under the recipe's bf16 autocast; TRL's own forward wherever
the sharing does not apply; and a real GRPO run goes through it."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
import torch
from accelerate.utils import DistributedType
from transformers import AutoModelForCausalLM
from trl import GRPOTrainer
from trl.trainer.utils import add_fused_lm_head

from train import shared_prompt_loss
from train.config import ConfigError, resolve
from train.shared_prompt_loss import SharedPromptLossMixin

GROUPS, GROUP_SIZE = 3, 4


class Plain(GRPOTrainer):
    def logps(self, *args, **kwargs):  # TRL's own (train.shared_prompt_loss overrides it: private_api lists it)
        return self._get_per_token_logps_and_entropies(*args, **kwargs)


class Shared(SharedPromptLossMixin, Plain):
    pass


def trainer(cls, bf16: bool, distributed=DistributedType.NO):
    """Just what the method reads of a trainer: its accelerator's autocast (as accelerate gives it on a
    CPU) and distributed type. A whole GRPOTrainer is built by the run test below."""
    t = cls.__new__(cls)
    t.accelerator = types.SimpleNamespace(autocast=lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16),
                                          distributed_type=distributed, is_main_process=True)
    return t


def batch(vocab: int, seed: int = 0):
    """GROUPS prompts of 5, 9 and 7 tokens, left-padded to 9, each repeated GROUP_SIZE times, with
    completions of 1 to 6 tokens, right-padded: TRL's `cat(prompt_ids, completion_ids)` and masks."""
    g = torch.Generator().manual_seed(seed)
    rows, masks = [], []
    for n_prompt in (5, 9, 7):
        prompt = torch.randint(3, vocab, (n_prompt,), generator=g)
        for _ in range(GROUP_SIZE):
            n_comp = int(torch.randint(1, 7, (1,), generator=g))
            comp = torch.randint(3, vocab, (n_comp,), generator=g)
            rows.append(torch.cat([torch.zeros(9 - n_prompt, dtype=torch.long), prompt, comp,
                                   torch.zeros(6 - n_comp, dtype=torch.long)]))
            masks.append(torch.cat([torch.zeros(9 - n_prompt), torch.ones(n_prompt + n_comp), torch.zeros(6 - n_comp)]))
    return torch.stack(rows), torch.stack(masks).long(), 6


def logps_and_grad(t, model, ids, mask, keep):
    model.zero_grad()
    logps, entropies, _ = t.logps(model, ids, mask, keep, compute_entropy=True)
    completion = mask[:, -keep:].bool()
    (logps[completion].sum() + entropies[completion].sum()).backward()
    return logps[completion].detach(), entropies[completion].detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16 autocast"])
def test_log_probs_entropies_and_gradient_are_trls(taught_model_dir, bf16, monkeypatch):
    model = AutoModelForCausalLM.from_pretrained(taught_model_dir, dtype=torch.float32, attn_implementation="eager")
    add_fused_lm_head(model, outputs=("log_probs", "entropy"))  # as GRPOTrainer does
    model.train()
    ids, mask, keep = batch(model.config.vocab_size)
    calls = []
    original = shared_prompt_loss.shared_prompt_logps
    monkeypatch.setattr(shared_prompt_loss, "shared_prompt_logps", lambda *a, **k: calls.append(1) or original(*a, **k))
    ours = logps_and_grad(trainer(Shared, bf16), model, ids, mask, keep)
    monkeypatch.undo()
    trls = logps_and_grad(trainer(Plain, bf16), model, ids, mask, keep)
    assert calls and original(model, ids, mask, keep, True) is not None  # the shared path ran
    tol = 0.05 if bf16 else 1e-4
    assert torch.allclose(ours[0], trls[0], atol=tol), (ours[0] - trls[0]).abs().max()
    assert torch.allclose(ours[1], trls[1], atol=tol), (ours[1] - trls[1]).abs().max()
    for a, b in zip(ours[2], trls[2]):  # every parameter's gradient, the prompt's share summed over its rows
        assert torch.linalg.vector_norm(a - b) <= (0.03 if bf16 else 1e-4) * torch.linalg.vector_norm(b) + 1e-6


def test_trls_own_forward_where_sharing_does_not_apply(taught_model_dir, monkeypatch):
    model = AutoModelForCausalLM.from_pretrained(taught_model_dir, dtype=torch.float32, attn_implementation="eager")
    add_fused_lm_head(model, outputs=("log_probs", "entropy"))
    ids, mask, keep = batch(model.config.vocab_size)
    distinct = torch.arange(0, ids.shape[0], GROUP_SIZE)  # one row per prompt: nothing to share
    assert shared_prompt_loss.shared_prompt_logps(model, ids[distinct], mask[distinct], keep, True) is None
    calls = []
    monkeypatch.setattr(shared_prompt_loss, "shared_prompt_logps", lambda *a, **k: calls.append(1))
    with torch.no_grad():
        trls = trainer(Plain, False).logps(model, ids, mask, keep)[0]
        for t in (trainer(Shared, False, DistributedType.MULTI_CPU), trainer(Shared, False, DistributedType.DEEPSPEED)):
            assert torch.equal(t.logps(model, ids, mask, keep)[0], trls)
    assert not calls
    # an image batch (any model input beyond the text), or MoE's aux loss, is TRL's too
    t = trainer(Shared, False)
    assert shared_prompt_loss.applies(t, model, {"batch_size": 8, "compute_entropy": True, "pixel_values": None})
    assert not shared_prompt_loss.applies(t, model, {"pixel_values": torch.zeros(1)})
    assert not shared_prompt_loss.applies(t, model, {"compute_aux_loss": True})


def test_a_grpo_run_computes_its_loss_with_shared_prompts(shrunk_recipe, monkeypatch):
    """Two real GRPO steps (TRL, bf16 autocast, rows shuffled by TRL before the loss) with the recipe key
    on: each step's loss runs the shared forward over its 2 prompts x 4 completions, and gets the
    log-probabilities TRL's own forward gets for the same rows at that moment."""
    from train.pipeline import run

    seen = []
    original = shared_prompt_loss.shared_prompt_logps

    def checked(model, ids, mask, keep, entropy):
        got = original(model, ids, mask, keep, entropy)
        with torch.no_grad():
            labels = ids.masked_fill(mask == 0, -100)
            labels[:, :-keep] = -100
            trls = model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True).log_probs[:, -keep:]
        completion = mask[:, -keep:].bool()
        seen.append((ids.shape[0], float((got[0].detach() - trls)[completion].abs().max())))
        return got

    monkeypatch.setattr(shared_prompt_loss, "shared_prompt_logps", checked)
    cfg = resolve(shrunk_recipe(shared_prompt_loss=True, gradient_checkpointing=False,
                                reward_funcs=["format", "equation"]))
    assert run(cfg)["global_step"] == 2
    assert [rows for rows, _ in seen] == [8, 8] and all(diff < 0.05 for _, diff in seen), seen


def test_gradient_checkpointing_is_refused_and_never_shared(shrunk_recipe, taught_model_dir):
    """A checkpointed layer is called without its cache, so the prompt's keys and values would be lost."""
    with pytest.raises(ConfigError, match="shared_prompt_loss needs gradient_checkpointing: false"):
        resolve(shrunk_recipe(shared_prompt_loss=True, gradient_checkpointing=True))
    model = AutoModelForCausalLM.from_pretrained(taught_model_dir, dtype=torch.float32)
    model.gradient_checkpointing_enable()
    assert not shared_prompt_loss.applies(trainer(Shared, False), model, {})


def test_the_recipe_key_is_for_cpu_runs(shrunk_recipe):
    with pytest.raises(ConfigError, match="shared_prompt_loss is for CPU runs"):
        resolve(shrunk_recipe(shared_prompt_loss=True, use_cpu=False, bf16=False))
    recipe = resolve("train/recipes/tiny-cpu.yaml")
    assert recipe.script.shared_prompt_loss is True and recipe.grpo.gradient_checkpointing is False
    from train.config import ScriptArguments

    assert ScriptArguments().shared_prompt_loss is False  # the GPU recipes (which cannot resolve on a CPU) leave it off
    for gpu in ("grpo-1.5b.yaml", "grpo-1.5b-lora.yaml"):
        assert "shared_prompt_loss" not in Path(f"train/recipes/{gpu}").read_text()


def test_the_gradient_into_a_shared_prompt_is_the_same_bits_every_time():
    """The rows' gradients are summed into their prompt's one copy in the same order on every call, with 2
    threads: with the cache's own `batch_select_indices` (indexing; atomic adds across threads) 30 calls gave up
    to 30 different sums here, and a run under load parted from the same run idle."""
    from transformers import DynamicCache

    g = torch.Generator().manual_seed(0)
    group = torch.arange(8).repeat_interleave(16)[torch.randperm(128, generator=g)]  # the recipe's 8 x 16, shuffled
    keys, values = (torch.randn(8, 2, 40, 64, generator=g) for _ in range(2))
    upstream = torch.randn(128, 2, 40, 64, generator=g)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        sums = set()
        for _ in range(30):
            k, v = keys.clone().requires_grad_(), values.clone().requires_grad_()
            cache = DynamicCache()
            cache.update(k, v, 0)
            shared_prompt_loss.repeat_to_rows(cache, group)
            assert torch.equal(cache.layers[0].keys, keys[group]) and torch.equal(cache.layers[0].values, values[group])
            (cache.layers[0].keys * upstream + cache.layers[0].values * upstream).sum().backward()
            sums.add((k.grad.numpy().tobytes(), v.grad.numpy().tobytes()))
    finally:
        torch.set_num_threads(threads)
    assert len(sums) == 1
