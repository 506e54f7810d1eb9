"""Shrunk training configs for the train tests: every value is cut to make a GRPO step take
seconds on a 2-core CPU, and each cut says what it gives up."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

SHRUNK = {
    "dtype": "float32",
    "cold_start_steps": 0,             # no SFT: these tests exercise the GRPO/infra path only
    "max_steps": 2,                    # two optimizer steps prove the loop, not learning
    "use_cpu": True,
    "bf16": True,                      # TRL's default, said out loud: bf16 compute as the reference (CPU autocast),
                                       # and what the zero2/zero3 configs' mixed_precision expects
    "learning_rate": 1.0e-3,           # large, so one step visibly moves the weights
    "beta": 0.0,                       # no reference model: half the forward passes
    "loss_type": "dapo",
    "num_generations": 4,              # smallest group that still gives reward spread
    "per_device_train_batch_size": 8,  # 2 prompts x 4 completions per step
    "max_completion_length": 8,        # 8 tokens: far too short to solve, enough to score
    "save_steps": 1,
    "save_total_limit": 3,
    "logging_steps": 1,
    "val_limit": 8,                    # 8 val tasks, 8 greedy tokens: a cheap but real val pass
    "eval_max_new_tokens": 8,
    "final_eval": False,               # the test-split table is the embedded run's job
    "torch_num_threads": 1,            # the CI box is shared: one thread is the fast choice
    "report_to": "none",
    "disable_tqdm": True,
}


@pytest.fixture
def shrunk_recipe(tmp_path, tiny_model_dir, countdown_data_dir):
    """Write a shrunk recipe (plus overrides) to tmp_path and return its path."""

    def make(**over) -> Path:
        cfg = {"model_name_or_path": str(tiny_model_dir), "dataset": str(countdown_data_dir),
               "output_dir": str(tmp_path / "run"), **SHRUNK, **over}
        p = tmp_path / "recipe.yaml"
        p.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return p

    return make
