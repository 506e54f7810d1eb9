"""common/run_results.py: what a run's result files say, read from a run written by the project's own
writers (tests/scored_run.py): the table and where it came from, the paired line, the breakdowns, the
alarms, the figures and the samples; and a run not scored yet, or still training, reads as what it has.

    .venv/bin/python -m pytest -q tests/common/test_run_results.py
"""

from __future__ import annotations

import json
import shutil

from common.run_results import (breakdowns_text, figure, not_scored_line, notes_lines, paired_line, read_metrics,
                                results_lines, run_alarms, sample_buckets, samples)
from tests.scored_run import build_scored_run


def test_the_evaluated_table_with_its_difference_and_paired_line(scored_run):
    ev = json.loads((scored_run / "eval" / "summary.json").read_text())
    model, base, paired = ev["model"], ev["baseline"], ev["difference"]["paired"]
    text = "\n".join(results_lines(scored_run))
    assert text.startswith("Scored by `python cli.py evaluate` (lm-eval, hf backend, greedy, at most 256 new tokens)")
    assert f"| baseline: sft | {base['correct']}/16 |" in text
    assert f"| tiny-r1-countdown (final) | {model['correct']}/16 |" in text
    assert f"difference: {model['correct'] - base['correct']:+d} tasks" in text
    line = paired_line(ev)
    assert line in text and "| tiny-r1-countdown (final) − baseline: sft |" in line
    assert f"| {paired['only_a']} / {paired['only_b']} |" in line  # eval/summary.json's own counts, not recounted
    assert "GRPO gain" not in text  # the end-of-run table gives way to the newer one


def test_the_end_of_run_table_when_not_evaluated(tmp_path):
    run = build_scored_run(tmp_path, evaluated=False, sweep=False)
    test = json.loads((run / "summary.json").read_text())["test"]
    text = "\n".join(results_lines(run))
    assert text.startswith(f"Scored at the end of training on `{test['test_split']}` (16 tasks, lm-eval, hf)")
    assert f"| trained (final) | {test['trained']['correct']}/16 |" in text
    assert f"GRPO gain: {test['gain_points']:+.1f} points." in text
    assert breakdowns_text(run) is None and samples(run) == []  # the end-of-run table has neither
    assert figure(run, "accuracy_vs_step") is None and figure(run, "curves") == run / "curves.png"


def test_a_run_not_scored_says_how(tmp_path):
    run = build_scored_run(tmp_path, end_of_run_table=False, evaluated=False, sweep=False)
    assert results_lines(run) == [not_scored_line(run)] == [f"Not scored yet: `python cli.py evaluate --model {run}`."]


def test_breakdowns_by_number_count_difficulty_and_reason(scored_run):
    text = breakdowns_text(scored_run)
    ev = json.loads((scored_run / "eval" / "summary.json").read_text())["model"]
    for key, buckets in ev.items():
        if key in ("by_numbers", "by_operators", "by_solutions"):
            for b in buckets.values():
                assert f"{b['correct']}/{b['total']}" in text
    assert "| model | 3 numbers | 4 numbers |" in text and "| verdict reason |" in text
    assert "| tiny-r1-countdown (final) − baseline: sft |" in text


def test_alarms_from_the_summary_and_while_training_from_metrics(scored_run, tmp_path):
    alarms = run_alarms(scored_run)
    assert [a["alarm"] for a in alarms] == ["format_without_answers"]  # fired by the real callback
    assert alarms == [r for r in read_metrics(scored_run) if "alarm" in r]
    assert notes_lines(scored_run) == [f"- **Alarm at step {alarms[0]['step']} (format_without_answers)**: "
                                       f"{alarms[0]['message']}."]
    # Still training: no summary.json yet, and a line being written at the end of metrics.jsonl.
    run = tmp_path / "r"
    run.mkdir()
    shutil.copy(scored_run / "metrics.jsonl", run / "metrics.jsonl")
    with (run / "metrics.jsonl").open("a") as f:
        f.write('{"step": 31, "rew')
    assert run_alarms(run) == alarms
    assert read_metrics(run)[-1]["step"] == 30
    # A run whose summary says no alarm fired has none, whatever else the metrics hold.
    (run / "summary.json").write_text(json.dumps({"alarms": []}))
    assert run_alarms(run) == [] and notes_lines(run) == []


def test_samples_carry_their_verdict_and_difficulty(scored_run):
    rows = samples(scored_run)
    assert len(rows) == 16 and len(samples(scored_run, "baseline")) == 16
    assert sum(r["ok"] for r in rows) == json.loads((scored_run / "eval" / "summary.json").read_text())["model"][
        "correct"]
    for r in rows:
        buckets = sample_buckets(r)
        assert buckets[0] == f"{r['n_numbers']} numbers" and len(buckets) == 4


def test_figures(scored_run, tmp_path):
    assert figure(scored_run, "curves").read_bytes()[:4] == b"\x89PNG"
    assert figure(scored_run, "accuracy_vs_step").parent == scored_run / "eval" / "sweep"
    assert figure(tmp_path, "curves") is None
