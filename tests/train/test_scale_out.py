"""The same `cli.py train` under `accelerate launch` with 2 CPU processes (DDP over gloo) for
2 GRPO steps (train/accelerate/ddp-cpu.yaml: torchrun workers, `use_cpu` in the recipe), and the DeepSpeed configs as DeepSpeed parses them (DeepSpeed cannot train on
this CPU machine: see test_deepspeed_configs_parse)."""

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


@pytest.mark.slow
def test_two_cpu_processes_ddp(shrunk_recipe):
    recipe = shrunk_recipe(save_steps=2)
    r = launch_two_processes("cli.py", recipe)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    run_dir = recipe.parent / "run"
    state = json.loads((run_dir / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    assert json.loads((run_dir / "run.json").read_text())["model"] == "final"
    # each optimizer step took 8 completions from each of the 2 processes
    assert "2 process(es), 16 completions/step" in r.stdout, r.stdout[-2000:]


@pytest.mark.parametrize("name", ["zero2", "zero3", "multi-node"])
def test_deepspeed_configs_parse(name):
    cfg = resolve("train/recipes/grpo-1.5b.yaml", neutralise_gpu_checks=True)
    out = deepspeed_check(ACCELERATE_DIR / f"{name}.yaml", cfg)
    assert f"ZeRO-{3 if name != 'zero2' else 2}" in out and "micro batch 8, accumulation 3" in out


@pytest.mark.slow
def test_dynamic_sampling_on_two_cpu_processes(shrunk_recipe, tmp_path):
    """Dynamic sampling under DDP: 3 groups of 4 over 2 processes of 6 rows, so one group spans
    both processes; about half the groups are dead (tests/train/ds_worker.py's reward), so steps
    refill. Both processes must take the same rounds (a mismatch hangs on TRL's collectives)."""
    recipe = shrunk_recipe(reward_funcs=["even"], dynamic_sampling=True, dynamic_sampling_max_rounds=6,
                           max_steps=3, per_device_train_batch_size=6, save_steps=3)
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
