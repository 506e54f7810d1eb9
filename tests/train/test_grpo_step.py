"""Real GRPO steps on the tiny model (in process): the weights move, the run directory fills
with what the contract promises, and a NaN reward stops the run with the step named while the
checkpoints already written stay intact."""

from __future__ import annotations

import json
import math

import pytest

from common.run_dir import newest_resumable_checkpoint, run_split
from tasks.countdown import rewards
from train.config import resolve
from train.errors import TrainError
from train.pipeline import run


def length_reward(completions, **kw):
    """Test-only reward with spread even for a random model (format/equation are all 0 there,
    which gives zero advantages and therefore no update)."""
    return [len(rewards.completion_text(c)) / 10.0 for c in completions]


def nan_after_first_step(completions, **kw):
    nan_after_first_step.calls += 1
    return [math.nan if nan_after_first_step.calls > 1 else 0.5 + 0.1 * i for i, _ in enumerate(completions)]


@pytest.fixture
def extra_rewards(monkeypatch):
    monkeypatch.setitem(rewards.REWARD_FUNCS, "length", length_reward)
    nan_after_first_step.calls = 0
    monkeypatch.setitem(rewards.REWARD_FUNCS, "nan", nan_after_first_step)


def test_two_grpo_steps_change_the_weights_and_fill_the_run_dir(shrunk_recipe, extra_rewards, tiny_model_dir,
                                                                 countdown_data_dir):
    import torch
    from safetensors.torch import load_file

    cfg = resolve(shrunk_recipe(reward_funcs=["format", "equation", "length"]))
    summary = run(cfg)
    out = cfg.output_dir
    assert summary["global_step"] == 2
    before = load_file(str(tiny_model_dir / "model.safetensors"))
    after = load_file(str(out / "final" / "model.safetensors"))
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "no parameter changed after two GRPO steps"

    run_json = json.loads((out / "run.json").read_text())
    assert run_json["model"] == "final" and run_json["recipe"] == "config.yaml"
    assert run_json["test_split"].endswith("test.jsonl")
    # self-contained: the run keeps its own copy of the held-out splits, named relative to it
    assert (run_json["test_split"], run_json["val_split"]) == ("data/test.jsonl", "data/val.jsonl")
    for name in ("test", "val"):
        assert (out / "data" / f"{name}.jsonl").read_bytes() == (countdown_data_dir / f"{name}.jsonl").read_bytes()
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "reward" in r]
    assert [r["step"] for r in steps] == [1, 2]
    for key in ("reward_format", "reward_equation", "reward_length", "accuracy", "completion_length", "step_time"):
        assert key in steps[0], key
    assert "tokens_per_s" in steps[1]
    assert [r["step"] for r in rows if "val_accuracy" in r] == [0, 1, 2]
    assert (out / "curves.png").stat().st_size > 1000
    assert (out / "config.yaml").is_file() and newest_resumable_checkpoint(out).name == "checkpoint-2"
    # the run's own card over TRL's template ("a fine-tuned version of [None]"), beside the served weights too
    card = (out / "README.md").read_text()
    assert "fine-tuned version of" not in card and "trained with GRPO" in card
    assert f"after {summary['global_step']} GRPO steps" in card and "| max_steps | 2 |" in card
    assert (out / "final" / "README.md").read_text() == card


def test_nan_reward_stops_with_the_step_named(shrunk_recipe, extra_rewards):
    cfg = resolve(shrunk_recipe(reward_funcs=["nan"], max_steps=3))
    with pytest.raises(TrainError) as e:
        run(cfg)
    msg = str(e.value)
    assert "reward 'nan_after_first_step' returned nan at step 2" in msg
    assert "newest: checkpoint-1" in msg
    ck = cfg.output_dir / "checkpoint-1"
    assert json.loads((ck / "trainer_state.json").read_text())["global_step"] == 1
    assert (ck / "model.safetensors").is_file()


def test_lora_run_exports_one_merged_model(shrunk_recipe, extra_rewards, tiny_model_dir):
    """The LoRA recipe's path on the tiny model: checkpoints hold adapters, `final/` holds one
    plain model (adapter merged) that lm-eval, vLLM and the demo load without peft."""
    import torch
    from safetensors.torch import load_file

    cfg = resolve(shrunk_recipe(reward_funcs=["format", "equation", "length"], use_peft=True, lora_r=4,
                                lora_alpha=8, lora_dropout=0.0, lora_target_modules=["q_proj", "v_proj"]))
    run(cfg)
    out = cfg.output_dir
    assert (newest_resumable_checkpoint(out) / "adapter_config.json").is_file()
    final = out / "final"
    assert not (final / "adapter_config.json").exists()
    before = load_file(str(tiny_model_dir / "model.safetensors"))
    after = load_file(str(final / "model.safetensors"))
    assert set(after) == set(before)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(("q_proj" in k or "v_proj" in k) for k in changed), sorted(changed)[:5]
    assert after["model.layers.0.self_attn.q_proj.weight"].dtype == torch.float32


@pytest.mark.slow
def test_summary_scores_greedy_and_sampled_through_lm_eval(shrunk_recipe, extra_rewards):
    """The run's closing table: baseline vs final on the test split through lm-eval, greedy and
    (final_eval_temperature) one sampled completion per task; summary.json/.md hold both."""
    cfg = resolve(shrunk_recipe(reward_funcs=["format", "equation", "length"], final_eval=True,
                                final_eval_limit=6, final_eval_temperature=1.0))
    summary = run(cfg)
    out = cfg.output_dir
    saved = json.loads((out / "summary.json").read_text())
    for key in ("test", "test_sampled"):
        part = saved[key]
        assert part["baseline"]["total"] == part["trained"]["total"] == 6
        assert "lm-eval" in part["trained"]["scorer"]
    assert "temperature 1.0" in saved["test_sampled"]["trained"]["scorer"]
    assert saved["test_sampled"]["temperature"] == 1.0 and summary["test_sampled"] == saved["test_sampled"]
    md = (out / "summary.md").read_text()
    assert "GRPO gain (greedy)" in md and "GRPO gain (sampled, T=1)" in md and "sampled T=1" in md
    card = (out / "README.md").read_text()  # the card carries the table once it is scored
    t = saved["test"]
    assert f"| trained (final) | {t['trained']['correct']}/6 |" in card and f"({t['tasks']} tasks" in card


def test_checkpoint_average_is_final_only_when_it_beats_the_best_on_val(shrunk_recipe, extra_rewards, monkeypatch):
    """`average_checkpoints`: the kept checkpoints' weight mean is scored on the real val pass;
    it becomes final/ only if it beats the best single checkpoint, strictly (forced both ways
    below with a scripted val score: the tiny untrained model scores 0 on val)."""
    import torch
    from safetensors.torch import load_file

    from train.callbacks import ValidationCallback
    from train.modeling import load_tokenizer
    from common.run_dir import resumable_checkpoints
    from train.pipeline import average_if_better

    cfg = resolve(shrunk_recipe(reward_funcs=["format", "equation", "length"], average_checkpoints=True))
    summary = run(cfg)
    out = cfg.output_dir
    ckpts = resumable_checkpoints(out)
    assert [p.name for p in ckpts] == ["checkpoint-1", "checkpoint-2"]
    # On the real run every val pass scored 0: the best is the first of the tie, and the average
    # (0, not better) is not used, so final/ is checkpoint-1's weights.
    assert summary["final_from"] == "checkpoint-1"
    best = load_file(str(out / summary["final_from"] / "model.safetensors"))
    final = load_file(str(out / "final" / "model.safetensors"))
    assert all(torch.equal(best[k], final[k]) for k in best)

    val_split = run_split(out, "val_split")  # run.json's paths are relative to the run dir
    val = [json.loads(x) for x in open(val_split).read().splitlines()][:4]
    cb = ValidationCallback(val, load_tokenizer(str(out / "final")), 0, None, print, max_new_tokens=4, batch_size=4)
    scored = []
    monkeypatch.setattr(ValidationCallback, "_counts", lambda self, m, rows, real=None: scored.append(m) or (2, 4))
    assert average_if_better(out, 0.5, cb, "float32") is None  # a tie with the best single is not better
    model, label, acc = average_if_better(out, 0.25, cb, "float32")
    assert label == "average of checkpoint-1, checkpoint-2" and acc == 0.5
    assert scored[-1] is model  # the score is the average's own
    states = [load_file(str(p / "model.safetensors")) for p in ckpts]
    got = model.state_dict()
    assert any(not torch.equal(states[0][k], states[1][k]) for k in states[0])
    for k in states[0]:
        torch.testing.assert_close(got[k], (states[0][k] + states[1][k]) / 2)


def test_dynamic_sampling_trains_only_on_groups_with_reward_spread(shrunk_recipe, monkeypatch):
    from tests.train.ds_worker import spread_on_even_targets

    monkeypatch.setitem(rewards.REWARD_FUNCS, "even", spread_on_even_targets)
    from train import dynamic_sampling

    seen = []
    real = dynamic_sampling.merge_batches
    monkeypatch.setattr(dynamic_sampling, "merge_batches", lambda *a: seen.append(real(*a)) or seen[-1])
    cfg = resolve(shrunk_recipe(reward_funcs=["even"], dynamic_sampling=True, dynamic_sampling_max_rounds=6,
                                max_steps=3, per_device_train_batch_size=16))
    assert run(cfg)["global_step"] == 3
    assert len(seen) == 3
    for batch in seen:
        groups = batch["advantages"].view(-1, 4)
        assert (groups != 0).any(dim=1).all(), "a group without reward spread reached the loss"
        assert int(batch["num_items_in_batch"]) == int(batch["completion_mask"].sum())
        assert batch["prompt_ids"].size(0) == batch["completion_ids"].size(0) == groups.numel()
    rows = [json.loads(x) for x in (cfg.output_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "sampling_rounds" in r]
    assert len(steps) == 3 and all(0 < r["live_groups"] <= 1 for r in steps)
    assert max(r["sampling_rounds"] for r in steps) > 1, "no step refilled its dead groups"
    # a step's generation time is logged, and it is a part of the step (the rest is loss and backward)
    assert all(0 < r["generation_seconds"] < r["step_time"] for r in steps if "step_time" in r)
    assert all("generation_seconds" in r for r in steps)


def alternate_on_even_targets(completions, target, **kw):
    """Reward spread in exactly the even-target groups (0, 1, 0, 1, ... by row: a call's groups are runs of
    num_generations rows), whatever the model writes, so which groups are live depends on the prompts only."""
    return [float(i % 2) if t % 2 == 0 else 1.0 for i, t in enumerate(target)]


def test_rounds_in_one_call_keep_the_groups_one_round_a_call_keeps(shrunk_recipe, monkeypatch, tmp_path):
    """dynamic_sampling_rounds_per_call: 3 generates a step's 3 rounds in one call and must keep the very
    prompts, in the same order, that one round a call keeps (the same refill prompts, the first live groups
    in round order), and report the rounds a step needed as one round a call would have taken them."""
    monkeypatch.setitem(rewards.REWARD_FUNCS, "alternate", alternate_on_even_targets)
    from train import dynamic_sampling

    real = dynamic_sampling.merge_batches
    kept = []

    def record(*a):
        b = real(*a)
        live = b["advantages"] != 0  # filler rows have advantage 0; a live group here has none
        ids = [row[m.bool()].tolist() for row, m, x in zip(b["prompt_ids"], b["prompt_mask"], live) if x]
        kept[-1].append(ids[::4])  # one entry a group
        return b

    monkeypatch.setattr(dynamic_sampling, "merge_batches", record)
    runs = {}
    for k in (1, 3):
        kept.append([])
        cfg = resolve(shrunk_recipe(reward_funcs=["alternate"], dynamic_sampling=True, dynamic_sampling_max_rounds=3,
                                    dynamic_sampling_rounds_per_call=k, max_steps=4, per_device_train_batch_size=16,
                                    validate=False, output_dir=str(tmp_path / f"k{k}")))
        assert run(cfg)["global_step"] == 4
        rows = [json.loads(x) for x in (cfg.output_dir / "metrics.jsonl").read_text().splitlines()]
        runs[k] = [r for r in rows if "sampling_rounds" in r]
    one, three = runs[1], runs[3]
    assert kept[0] == kept[1] and all(kept[0]), "one call of 3 rounds kept other groups than 3 calls of one"
    assert [r["sampling_rounds_needed"] for r in one] == [r["sampling_rounds_needed"] for r in three]
    assert [r["live_groups"] for r in one] == [r["live_groups"] for r in three]
    assert all(r["sampling_rounds"] == r["sampling_rounds_needed"] == r["generation_calls"] for r in one)
    assert all(r["sampling_rounds"] == 3 and r["generation_calls"] == 1 for r in three)
    assert len({r["sampling_rounds_needed"] for r in one}) > 1, "every step needed as many rounds: a weak test"


@pytest.mark.parametrize("scores,best", [([0.25, 0.75, 0.5, 0.25], 1), ([0.5, 0.25, 0.5, 1.0], 3),
                                         ([0.5, 0.75, 0.75, 0.25], 1)])
def test_final_is_the_checkpoint_with_the_best_val_score(shrunk_recipe, extra_rewards, monkeypatch, scores, best):
    """A scripted validation sequence (steps 0..3; the untrained model scores 0 everywhere, so a real
    one cannot tell best from worst): final/ holds exactly the weights of the best-scoring
    checkpoint, the first of a tie, and never a worse one."""
    import torch
    from safetensors.torch import load_file

    from train.callbacks import ValidationCallback

    calls = iter(scores)

    def scripted(self, model, rows, real=None):
        real = len(rows) if real is None else real
        return round(next(calls) * real), real

    monkeypatch.setattr(ValidationCallback, "_counts", scripted)
    cfg = resolve(shrunk_recipe(reward_funcs=["format", "equation", "length"], max_steps=3, val_limit=4,
                                save_total_limit=5))
    summary = run(cfg)
    assert summary["final_from"] == f"checkpoint-{best}"
    assert summary["final_val_accuracy"] == max(scores[1:])
    final = load_file(str(cfg.output_dir / "final" / "model.safetensors"))
    chosen = load_file(str(cfg.output_dir / f"checkpoint-{best}" / "model.safetensors"))
    others = [load_file(str(cfg.output_dir / f"checkpoint-{s}" / "model.safetensors")) for s in (1, 2, 3) if s != best]
    assert all(torch.equal(final[k], chosen[k]) for k in chosen)
    assert all(any(not torch.equal(final[k], o[k]) for k in o) for o in others)


def test_validation_scores_the_model_as_saved_while_the_loss_keeps_autocast(shrunk_recipe, extra_rewards, monkeypatch):
    """`bf16: true` on fp32 weights (the embedded recipe, SHRUNK here): accelerate runs the policy's forward under
    CPU autocast. A val pass must score the checkpoint as it is scored from disk (the weight average, the test
    split: no autocast), and the loss forwards after it must still run under autocast."""
    import torch

    from train.callbacks import ValidationCallback

    seen = []  # (in a val pass, autocast on, grad on), one per forward of the policy's decoder
    in_val = [False]
    probed = set()
    real_counts = ValidationCallback._counts

    def counts(self, model, rows, real=None):
        if id(model) not in probed:
            probed.add(id(model))
            model.model.norm.register_forward_pre_hook(
                lambda m, a: seen.append((in_val[0], torch.is_autocast_enabled("cpu"), torch.is_grad_enabled())))
        in_val[0] = True
        try:
            return real_counts(self, model, rows, real)
        finally:
            in_val[0] = False

    monkeypatch.setattr(ValidationCallback, "_counts", counts)
    cfg = resolve(shrunk_recipe(reward_funcs=["format", "equation", "length"], max_steps=2))
    run(cfg)
    val = [on for v, on, _ in seen if v]
    loss = [on for v, on, grad in seen if not v and grad]
    assert val and loss, "no val pass or no loss forward was seen"
    assert not any(val), f"{sum(val)} of {len(val)} val forwards ran under autocast"
    assert all(loss), f"{len(loss) - sum(loss)} of {len(loss)} loss forwards lost their autocast after a val pass"
