"""`cli.py train` on 2 CPU processes, launched the way the README launches 8 GPUs
(`cli.py train --num-gpus N --accelerate-config NAME`, torchrun workers, `use_cpu` in the recipe)
with each config file the GPU launch uses: every phase of a run on under ZeRO-3, ZeRO-2's
partitioning with validation and export, DDP (ddp-cpu.yaml, gloo) at the reference's dtype and
learning rate, dynamic sampling's cross-process rounds; and the DeepSpeed configs as DeepSpeed
parses them.

Why 2 processes: code that runs on rank 0 alone, or a rank-0 write the others read without
waiting, hangs or races only with more than one process; one process hides both."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.train.conftest import ROOT
from train.config import resolve
from train.launch import ACCELERATE_DIR, deepspeed_check


def launch_two_processes(script: str, recipe, **env) -> subprocess.CompletedProcess:
    """`accelerate launch` of `script train --config recipe` on 2 CPU processes (ddp-cpu.yaml)."""
    accelerate = os.path.join(os.path.dirname(sys.executable), "accelerate")
    cmd = [accelerate, "launch", "--config_file", str(ACCELERATE_DIR / "ddp-cpu.yaml"), "--num_processes", "2",
           "--main_process_port", "0", script, "train", "--config", str(recipe)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, OMP_NUM_THREADS="1", **env))


def train_two_processes(recipe, accelerate_config: str = "ddp-cpu", **env) -> subprocess.CompletedProcess:
    """`cli.py train --num-gpus 2 --accelerate-config NAME`: the launcher the README documents, which
    starts the workers, waits for them, then scores the test table in one process."""
    cmd = [sys.executable, "cli.py", "train", "--config", str(recipe), "--num-gpus", "2",
           "--accelerate-config", accelerate_config]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200,
                          env=dict(os.environ, OMP_NUM_THREADS="1", **env))


# The accelerate config of the README's 8-GPU command; the other two are launched below as well.
EVERY_PHASE_CONFIG = "zero3"


def deepspeed_state(checkpoint) -> tuple[bool, bool]:
    """(rank 1 holds an optimizer partition, rank 1 holds a model-state partition) in a checkpoint:
    ZeRO-2 partitions the optimizer's states, ZeRO-3 the model's as well, DDP neither."""
    ds = next(checkpoint.glob("global_step*"), None)
    if ds is None:
        return False, False
    optimizer = bool(list(ds.glob("*zero_pp_rank_1_*optim_states.pt")))
    return optimizer, (ds / "zero_pp_rank_1_mp_rank_00_model_states.pt").is_file()


@pytest.mark.slow
def test_two_processes_every_phase_on(shrunk_recipe, taught_model_dir):
    """Cold start, curriculum, GRPO with dynamic sampling, validation, checkpoint averaging, export
    and the end-of-run table, all on, on 2 processes under DeepSpeed ZeRO-3 with the very config
    file the README's GPU launch uses (accelerate starts DeepSpeed on CPU processes too: it skips it
    only for `--cpu`; DeepSpeed's CPU accelerator talks gloo). ZeRO-3 is the strictest of the three
    configs: every forward pass, generation included, is a collective, so a phase that runs on one
    rank alone hangs here first. Starts from a model that solves some training tasks, so the
    curriculum keeps prompts and groups have reward spread. ZeRO-2 and DDP are launched by the two
    tests after this one, with the phases whose code differs between them."""
    recipe = shrunk_recipe(
        model_name_or_path=str(taught_model_dir),
        cold_start_steps=3, cold_start_batch_size=8, cold_start_learning_rate=1.0e-5,  # SFT runs, barely moves
        # the pool is the 8 tasks the model partly memorised (tests/conftest.py TAUGHT_ROWS)
        grpo_prompt_filter="solvable_sometimes", grpo_filter_pool=8, grpo_filter_samples=8,
        temperature=1.0, max_completion_length=48,  # 6 of the 8 have 0 < hits < 8 there (conftest.taught_model_dir)
        dynamic_sampling=True, dynamic_sampling_max_rounds=2,
        num_generations=4, per_device_train_batch_size=4,  # 1 prompt per process, 2 per step
        learning_rate=1.0e-5, max_steps=2, save_steps=1,
        val_limit=24, eval_max_new_tokens=48,               # 12 val tasks per process
        average_checkpoints=True,
        final_eval=True, final_eval_limit=24)
    r = train_two_processes(recipe, EVERY_PHASE_CONFIG)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    run_dir = recipe.parent / "run"
    # DeepSpeed really ran, at the config's stage: its per-rank state is in the checkpoint
    assert deepspeed_state(run_dir / "checkpoint-2") == (True, True), out[-2000:]
    assert (run_dir / "sft" / "sft_done").is_file() and (run_dir / "data" / "grpo_prompts.jsonl").is_file()
    assert "2 process(es), 8 completions/step" in r.stdout  # 4 per process x 2 processes
    # validation: every rank scored its share, the sum covers all 24 tasks, at step 0 and each save
    vals = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [v["step"] for v in vals if "val_accuracy" in v] == [0, 1, 2], vals
    assert "24 tasks over 2 process(es)" in out
    assert any("sampling_rounds" in v for v in vals)
    info = json.loads((run_dir / "run.json").read_text())
    assert info["model"] == "final" and info["global_step"] == 2
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(run_dir / "final")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["test"]["tasks"] == 24 and summary["test"]["trained"]["total"] == 24
    assert "| trained (GRPO, final)" in summary["table"] and "GRPO gain (greedy)" in r.stdout
    # the table came from the launching process, after the workers had exited
    assert out.index("scored by the launching process") < out.index("GRPO gain (greedy)")


@pytest.mark.slow
def test_zero2_partitions_the_optimizer_and_validates(shrunk_recipe):
    """ZeRO-2 (train/accelerate/zero2.yaml) on 2 processes: the optimizer states are partitioned,
    the model is not; validation (every rank generates its share of the val rows from the model
    TRL unwraps for generation) and the export of final/ work from ZeRO-2's wrapped model."""
    recipe = shrunk_recipe(max_steps=1, save_steps=1)
    r = train_two_processes(recipe, "zero2")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    run_dir = recipe.parent / "run"
    assert deepspeed_state(run_dir / "checkpoint-1") == (True, False), out[-2000:]
    vals = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [v["step"] for v in vals if "val_accuracy" in v] == [0, 1] and "8 tasks over 2 process(es)" in out
    assert json.loads((run_dir / "run.json").read_text())["model"] == "final"
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(run_dir / "final")


@pytest.mark.slow
def test_bf16_recipe_learns_at_the_reference_lr_under_ddp(shrunk_recipe, taught_model_dir, countdown_data_dir,
                                                          tmp_path):
    """The reference's dtype and learning rate (bfloat16 weights on disk, bf16 compute, lr 5e-7),
    rollouts from the embedded recipe's bf16 generation copy, under the default multi-process launcher
    (train/accelerate/ddp-cpu.yaml: DDP, no ZeRO). AdamW stepping bf16 parameters at 5e-7 loses almost every update (under 1% of weights change); with
    fp32 master weights nearly all do. The prompts are the tasks the taught model solves sometimes,
    so groups have reward spread and there is a gradient to apply."""
    import shutil

    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from tasks.countdown.data import load_split, write_jsonl
    from tests.conftest import TAUGHT_ROWS

    base = tmp_path / "bf16-base"
    shutil.copytree(taught_model_dir, base)
    AutoModelForCausalLM.from_pretrained(taught_model_dir, dtype=torch.bfloat16).save_pretrained(base)  # like Qwen's
    data = tmp_path / "data"
    shutil.copytree(countdown_data_dir, data)
    write_jsonl(load_split(countdown_data_dir, "train")[TAUGHT_ROWS], data / "train.jsonl")
    recipe = shrunk_recipe(model_name_or_path=str(base), dataset=str(data), dtype="bfloat16", bf16=True,
                           learning_rate=5.0e-7, temperature=1.0, max_completion_length=48, max_steps=1,
                           save_steps=1, validate=False,
                           # a group with reward spread is luck at one step; refill rounds make it certain
                           # (the taught model changes whenever the recipe's cold start does)
                           dynamic_sampling=True, dynamic_sampling_max_rounds=6,
                           generation_dtype="bfloat16")  # the embedded recipe's rollouts: a bf16 copy per process
    r = train_two_processes(recipe, "ddp-cpu")
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert deepspeed_state(recipe.parent / "run" / "checkpoint-1") == (False, False)  # plain DDP, no DeepSpeed
    metrics = [json.loads(x) for x in (recipe.parent / "run" / "metrics.jsonl").read_text().splitlines()]
    assert metrics[0]["grad_norm"] > 0, metrics  # a real gradient, so any unchanged weight is precision loss
    before = load_file(base / "model.safetensors")
    after = load_file(recipe.parent / "run" / "checkpoint-1" / "model.safetensors")
    changed = sum(int((after[k].float() != before[k].float()).sum()) for k in before)
    total = sum(v.numel() for v in before.values())
    assert changed / total > 0.5, f"only {changed / total:.2%} of the weights moved in one step"


@pytest.mark.parametrize("name", ["zero2", "zero3", "multi-node"])
def test_deepspeed_configs_parse(name):
    cfg = resolve("train/recipes/grpo-1.5b.yaml", neutralise_gpu_checks=True)
    out = deepspeed_check(ACCELERATE_DIR / f"{name}.yaml", cfg)
    assert f"ZeRO-{3 if name != 'zero2' else 2}" in out and "micro batch 8, accumulation 3" in out


@pytest.mark.slow
@pytest.mark.parametrize("rows, rounds_per_call", [(6, 1), (8, 3)])
def test_dynamic_sampling_on_two_cpu_processes(shrunk_recipe, tmp_path, rows, rounds_per_call):
    """Dynamic sampling under DDP: 3 groups of 4 over 2 processes of 6 rows, so one group spans
    both processes; about half the groups are dead (tests/train/ds_worker.py's reward), so steps
    refill. Both processes must take the same rounds (a mismatch hangs on TRL's collectives).
    With 8 rows (whole groups on each process), 3 rounds side by side in each generation call."""
    recipe = shrunk_recipe(reward_funcs=["even"], dynamic_sampling=True, dynamic_sampling_max_rounds=6,
                           dynamic_sampling_rounds_per_call=rounds_per_call,
                           max_steps=3, per_device_train_batch_size=rows, save_steps=3)
    record = tmp_path / "batches"
    record.mkdir()
    r = launch_two_processes("tests/train/ds_worker.py", recipe, DS_RECORD=str(record))
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    ranks = [[json.loads(x) for x in (record / f"rank{n}.jsonl").read_text().splitlines()] for n in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 3
    for b0, b1 in zip(*ranks):
        # TRL gathers per-row metrics: both processes train on as many rows (zero-advantage filler
        # evens them out); the loss normaliser counts the kept tokens of both, filler left out
        assert len(b0["advantages"]) == len(b1["advantages"])
        assert b0["num_items"] == b1["num_items"] <= b0["tokens"] + b1["tokens"]
        assert any(a != 0 for a in b0["advantages"] + b1["advantages"])
    steps = [json.loads(x) for x in (recipe.parent / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [s for s in steps if "sampling_rounds" in s]
    assert len(steps) == 3 and max(s["sampling_rounds"] for s in steps) > 1, "no step refilled its dead groups"
    assert all(-(-s["sampling_rounds"] // rounds_per_call) == s["generation_calls"] for s in steps)
    assert all(s["sampling_rounds_needed"] <= s["sampling_rounds"] for s in steps)


def test_readme_gpu_command_uses_a_tested_config():
    """The README's 8-GPU command names the accelerate config that the every-phase 2-process test runs."""
    import re

    readme = (ROOT / "README.md").read_text()
    cmd = re.search(r"python cli\.py train --config train/recipes/grpo-1\.5b\.yaml --num-gpus 8 "
                    r"--accelerate-config (\w+)", readme)
    assert cmd, "the README lost its 8-GPU command"
    assert cmd.group(1) == EVERY_PHASE_CONFIG and (ACCELERATE_DIR / f"{cmd.group(1)}.yaml").is_file()
