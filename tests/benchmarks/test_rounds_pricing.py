"""How the whole-run benchmark prices GRPO generation: the rounds each main-job step needed (read from a
real run's metrics.jsonl, whose metrics TRL logs as floats), summed over seeds, as calls of an arm's rounds
a call."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))  # the scripts import each other as the script's dir

import main_job  # noqa: E402
import recipe_speed  # noqa: E402


def test_rounds_needed_are_counted_per_step_from_a_runs_metrics(tmp_path):
    rows = [{"step": 1, "sampling_rounds": 3.0, "sampling_rounds_needed": 2.0, "generation_calls": 1.0},
            {"step": 1, "val_accuracy": 0.1},
            {"step": 2, "sampling_rounds": 3.0, "sampling_rounds_needed": 3.0, "generation_calls": 1.0},
            {"step": 3, "sampling_rounds": 2.0}]  # a run from before rounds were logged as needed: generated = needed
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = main_job.rounds_needed(tmp_path)
    assert got == {"rounds_per_step": round(7 / 3, 3), "rounds_needed_counts": {"2": 2, "3": 1}}


def test_the_price_of_a_step_counts_calls_of_the_arms_rounds(tmp_path, monkeypatch):
    runs = [{"rounds_per_step": 2.5, "rounds_needed_counts": {"2": 1, "3": 1}},
            {"rounds_per_step": 1.5, "rounds_needed_counts": {"1": 1, "2": 1}}]
    path = tmp_path / "main_job.json"
    path.write_text(json.dumps({"runs": runs}))
    monkeypatch.setattr(recipe_speed, "MAIN_JOB", path)
    rounds = recipe_speed.main_job_rounds()
    assert rounds == {"rounds_per_step": 2.0, "rounds_needed_counts": {"1": 1, "2": 2, "3": 1}}
    work = {**rounds, "max_rounds": 3, "grpo_steps": 10, "cold_start_steps": 0, "curriculum_prompts": 0,
            "val_passes": 0}
    unit = {"s_per_sft_step": 0, "s_per_curriculum_prompt": 0, "s_per_generation_call": 1.0,
            "s_per_step_outside_generation": 0, "s_per_val_pass": 0, "s_scoring": 0}
    one_a_round = recipe_speed.price({"unit": unit, "rounds_per_call": 1}, work)["GRPO generation"]
    two_a_call = recipe_speed.price({"unit": unit, "rounds_per_call": 2}, work)["GRPO generation"]
    all_in_one = recipe_speed.price({"unit": unit, "rounds_per_call": 3}, work)["GRPO generation"]
    assert (one_a_round, two_a_call, all_in_one) == (20.0, 12.5, 10.0)  # 10 steps x (2.0, 1.25, 1) calls
