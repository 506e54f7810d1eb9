"""train/alarms.py on scripted metric sequences: fires when the training signal and held-out accuracy
part ways or the format is earned without answers; quiet on a healthy run and on noise."""

from __future__ import annotations

import json
import random

from train.alarms import DivergenceMonitor
from train.callbacks import MetricsCallback, StepClock


def feed(mon, train, val_every=10, val=None):
    """train: accuracy per step (format 1.0); val: {step: accuracy}. Returns the events in order."""
    events = []
    for step, acc in enumerate(train, start=1):
        events += mon.add_train(step, acc, 1.0)
        if val and step in val:
            events += mon.add_val(step, val[step])
    return events


def test_reward_up_val_down_fires_once():
    train = [0.3] * 30 + [0.3 + 0.01 * i for i in range(1, 51)]  # rises after step 30
    val = {10: 0.12, 20: 0.15, 30: 0.17, 40: 0.16, 50: 0.13, 60: 0.12, 70: 0.12, 80: 0.11}
    events = feed(DivergenceMonitor(), train, val=val)
    assert [(e["step"], e["alarm"]) for e in events] == [(70, "reward_up_val_down")]
    assert "17.0% -> 12.0%" in events[0]["message"]


def test_fires_when_validation_never_beats_the_pass_before_training():
    """The best pass is step 0's (before any training): the rise is measured from the run's first
    window of training accuracy. A run that only memorises a handful of prompts looks like this."""
    mon = DivergenceMonitor()
    events = mon.add_val(0, 0.10)
    train = [0.2] * 20 + [0.2 + 0.01 * i for i in range(1, 61)]
    events += feed(mon, train, val={10: 0.09, 20: 0.08, 30: 0.07, 40: 0.06, 50: 0.05, 60: 0.05, 70: 0.04, 80: 0.04})
    assert [(e["step"], e["alarm"]) for e in events] == [(60, "reward_up_val_down")]
    assert "since step 0" in events[0]["message"] and "10.0% -> 5.0%" in events[0]["message"]


def test_quiet_from_step_0_when_training_accuracy_is_flat():
    mon = DivergenceMonitor()
    mon.add_val(0, 0.10)
    val = {s: 0.05 for s in range(10, 81, 10)}
    assert feed(mon, [0.3] * 80, val=val) == []


def test_quiet_on_a_healthy_run():
    train = [0.3 + 0.005 * i for i in range(60)]
    val = {10: 0.11, 20: 0.12, 30: 0.14, 40: 0.15, 50: 0.16, 60: 0.17}
    assert feed(DivergenceMonitor(), train, val=val) == []


def test_quiet_on_noise():
    """Validation noise of 1.5 points and a flat but noisy training signal (per-step sd 0.12, as the
    embedded run's): never an alarm over 120 steps (200 seeded runs)."""
    for seed in range(200):
        rng = random.Random(seed)
        train = [0.45 + rng.gauss(0, 0.12) for _ in range(120)]
        val = {s: 0.15 + rng.gauss(0, 0.015) for s in range(10, 121, 10)}
        assert [e for e in feed(DivergenceMonitor(), train, val=val) if e["alarm"] == "reward_up_val_down"] == [], seed
        with_step_0 = DivergenceMonitor()  # the pass before training, as the real runs have it
        with_step_0.add_val(0, 0.15 + rng.gauss(0, 0.015))
        assert [e for e in feed(with_step_0, train, val=val) if e["alarm"] == "reward_up_val_down"] == [], seed


def test_one_bad_val_pass_is_not_enough():
    train = [0.3] * 30 + [0.6] * 50
    val = {10: 0.12, 20: 0.17, 30: 0.10, 40: 0.10, 50: 0.17, 60: 0.10, 70: 0.12, 80: 0.17}  # never 3 low in a row
    assert feed(DivergenceMonitor(), train, val=val) == []


def test_format_without_answers_fires_once():
    mon = DivergenceMonitor()
    events = []
    for step in range(1, 41):
        events += mon.add_train(step, 0.0, 0.98)
    assert [(e["step"], e["alarm"]) for e in events] == [(20, "format_without_answers")]


def test_format_alarm_quiet_when_answers_come():
    mon = DivergenceMonitor()
    assert [e for step in range(1, 41) for e in mon.add_train(step, 0.2, 1.0)] == []


def test_the_callback_writes_the_event_and_warns(tmp_path):
    lines = []
    cb = MetricsCallback(tmp_path / "metrics.jsonl", StepClock(), log=lines.append)

    class State:
        is_world_process_zero = True
        global_step = 0

    for step in range(1, 21):
        State.global_step = step
        cb.on_log(None, State, None, logs={"rewards/equation_reward/mean": 0.0, "rewards/format_reward/mean": 1.0})
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["alarm"] for r in rows if "alarm" in r] == ["format_without_answers"]
    assert any(line.startswith("WARNING (alarm format_without_answers at step 20)") for line in lines)



def test_summary_card_and_curves_show_the_alarm(tmp_path):
    """The end of a run reads the events from metrics.jsonl: curves.png marks them, the card names them."""
    from evaluation.model_card import model_card
    from train.run_report import plot_curves

    rows = [{"step": s, "reward": 1.0, "reward_format": 1.0, "accuracy": 0.0} for s in range(1, 21)]
    rows.append({"step": 20, "alarm": "format_without_answers", "message": "format 1.00 but equation 0.000"})
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert plot_curves(tmp_path).is_file()
    (tmp_path / "summary.json").write_text(json.dumps({"alarms": rows[-1:]}))
    assert "**Alarm at step 20 (format_without_answers)**: format 1.00 but equation 0.000." in model_card(tmp_path)
