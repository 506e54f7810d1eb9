"""Where a run's time goes and the one line that marks a run a budget cut short (train/phases.py)."""

from __future__ import annotations

from train.phases import PhaseClock, phase_table, shortened_lines, shortened_note

FULL = {"data": {"seconds": 3.0}, "cold start": {"seconds": 500.0, "steps": 450, "planned_steps": 450},
        "GRPO": {"seconds": 900.0, "steps": 80, "planned_steps": 80, "seconds_per_step": 10.5}}


def test_a_full_run_carries_no_note():
    assert shortened_lines(FULL) == [] and shortened_note(FULL) is None


def test_a_phase_stopped_early_is_named_with_step_reached_of_planned():
    phases = FULL | {"cold start": {"seconds": 420.0, "steps": 360, "planned_steps": 450,
                                    "stopped_by": "its 7-min wall-clock cap"}}
    note = shortened_note(phases)
    assert note.startswith("SHORTENED RUN, not the recipe's result")
    assert "cold start stopped at step 360 of 450 (its 7-min wall-clock cap)" in note
    assert "\n" not in note  # one line


def test_table_lists_each_phase_and_the_total():
    table = phase_table(FULL)
    assert "| cold start | 8:20 | 450 of 450 |" in table
    assert "| GRPO | 15:00 | 80 of 80 (10.50 s/step) |" in table
    assert table.splitlines()[-1].startswith("| total | 23:23 |")


def test_clock_records_even_when_the_phase_fails():
    clock = PhaseClock()
    try:
        with clock.phase("x") as rec:
            rec["steps"] = 1
            raise RuntimeError
    except RuntimeError:
        pass
    assert clock.phases["x"]["steps"] == 1 and clock.phases["x"]["seconds"] >= 0
