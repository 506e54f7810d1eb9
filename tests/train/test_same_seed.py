"""Same seed, same thread count, same run: two `cli.py train` runs of the embedded default (shrunk)
give the same table, the same per-step metrics and the same `final/` weights.

Every phase of the embedded recipe is on: cold start, the curriculum, dynamic sampling GRPO with
validation passes and saves, the checkpoint average, the lm-eval test table. Only sizes shrink,
and the run starts from the suite's taught model so that GRPO has rewards to learn from. Both runs take the auto thread choice, which this suite pins to 1
(OMP_NUM_THREADS, tests/conftest.py). Another thread count is another run: matmuls sum in another
order, so the weights differ in their last bits after the first step and the runs drift apart
(docs/2026-12-02-main-job.md measures it).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from tests.train.conftest import ROOT

SHRINK = [
    # The taught model (tests/conftest.py) solves the train rows 24-31 sometimes: a cold start of
    # 3 steps x 8 takes rows 0-23, so the curriculum's pool of 8 is exactly those and GRPO has
    # reward spread to learn from (a tiny model from scratch would earn reward 0: no update at all).
    "cold_start_steps=3", "cold_start_batch_size=8", "cold_start_learning_rate=1e-5",  # SFT runs, barely moves
    "grpo_filter_pool=8", "grpo_filter_samples=8", "temperature=1.0",
    "max_steps=4", "save_steps=2", "save_total_limit=2",  # two saves: a checkpoint choice and an average
    "num_generations=4", "per_device_train_batch_size=8", "max_completion_length=48",
    "dynamic_sampling_max_rounds=2", "learning_rate=1e-3",  # large, so each step moves the weights
    "val_limit=16", "eval_max_new_tokens=48", "final_eval_limit=16", "final_eval_temperature=0",
    "seed=7",
]


def _run(out, data, model):
    sets = [x for kv in SHRINK + [f"output_dir={out}", f"dataset={data}", f"model_name_or_path={model}"]
            for x in ("--set", kv)]
    p = subprocess.run([sys.executable, "cli.py", "train", *sets], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONUNBUFFERED="1"), timeout=1200)
    assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]
    return p.stdout


def _facts(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for m in metrics:  # wall-clock fields differ between any two runs
        for k in [k for k in m if "time" in k or "second" in k or k.endswith("_s")]:
            del m[k]
    weights = hashlib.sha256((run_dir / "final" / "model.safetensors").read_bytes()).hexdigest()
    return {"table": summary["test"]["baseline"]["correct"], "trained": summary["test"]["trained"]["correct"],
            "final_from": summary["final_from"], "val": summary["val_history"], "metrics": metrics,
            "weights": weights, "steps": summary["phases"]["GRPO"]["steps"]}


@pytest.mark.slow
def test_same_seed_same_run(tmp_path, countdown_data_dir, taught_model_dir):
    out_a = _run(tmp_path / "a", countdown_data_dir, taught_model_dir)
    _run(tmp_path / "b", countdown_data_dir, taught_model_dir)
    a, b = _facts(tmp_path / "a"), _facts(tmp_path / "b")
    assert a["steps"] == 4
    # the phases' sizes as numbers, for benchmarks/recipe_speed.py to price each unit of work by
    phases = json.loads((tmp_path / "a" / "summary.json").read_text())["phases"]
    assert phases["curriculum"]["prompts"] == 8
    assert phases["GRPO"]["validation_passes"] == len(a["val"])
    rewards = [m["reward_equation"] for m in a["metrics"] if "reward_equation" in m]
    assert any(r > 0 for r in rewards), rewards  # GRPO had something to learn from
    assert a == b
    assert "torch CPU threads: 1" in out_a
