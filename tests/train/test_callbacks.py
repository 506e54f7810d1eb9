"""metrics.jsonl keeps what a user needs to read a GRPO run, under plain names."""

import json

from train.callbacks import MetricsCallback, StepClock


class State:
    is_world_process_zero = True
    global_step = 1


def test_the_adaptive_entropy_coefficient_is_kept(tmp_path):
    # TRL logs `entropy_coef` at each optimizer step when its entropy bonus is on (use_adaptive_entropy or
    # entropy_coef > 0); the opt-in's effect is read beside `entropy`.
    cb = MetricsCallback(tmp_path / "metrics.jsonl", StepClock(), log=lambda *_: None)
    cb.on_log(None, State, None, logs={"entropy": 0.09, "entropy_coef": 0.125, "rewards/format_reward/mean": 1.0})
    row = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert row["entropy"] == 0.09 and row["entropy_coef"] == 0.125
