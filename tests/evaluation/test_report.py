"""Reports: the reference's table, the difference, the breakdowns, the PNG, and outputs that
appear only once complete.

    .venv/bin/python -m pytest -q tests/evaluation/test_report.py
"""

from __future__ import annotations

import doctest

import pytest

import evaluation.api_model
import evaluation.report
import evaluation.runner
import evaluation.targets
from evaluation.report import bar_chart, breakdown_tables, difference, main_table
from evaluation.runner import breakdowns, gen_settings, publish, staging_dir


@pytest.mark.parametrize("module", [evaluation.report, evaluation.runner, evaluation.targets, evaluation.api_model])
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0


ROWS = [
    {"n_numbers": 3, "ok": True, "reason": "ok"},
    {"n_numbers": 3, "ok": False, "reason": "wrong_value"},
    {"n_numbers": 4, "ok": False, "reason": "no_answer"},
    {"n_numbers": 4, "ok": False, "reason": "no_answer"},
]


def summary(label, correct, acc, stderr):
    return {"label": label, "correct": correct, "total": 4, "accuracy": acc, "stderr": stderr, "format_rate": 0.5,
            "num_samples": 1, **breakdowns(ROWS)}


def test_breakdowns_by_numbers_and_reason():
    b = breakdowns(ROWS)
    assert b["by_numbers"] == {"3": {"correct": 1, "total": 2, "accuracy": 0.5},
                               "4": {"correct": 0, "total": 2, "accuracy": 0.0}}
    assert b["by_reason"] == {"no_answer": 2, "ok": 1, "wrong_value": 1}


def test_difficulty_breakdowns_when_rows_carry_their_task():
    rows = [{"nums": [19, 36, 55, 7], "target": 65, "n_numbers": 4, "ok": True, "reason": "ok"},
            {"nums": [68, 21, 8], "target": 100, "n_numbers": 3, "ok": False, "reason": "wrong_value"},
            {"nums": [68, 21, 8], "target": 100, "n_numbers": 3, "ok": True, "reason": "ok"}]
    b = breakdowns(rows)
    assert b["by_operators"] == {"+/- only": {"correct": 1, "total": 1, "accuracy": 1.0},
                                 "needs * or /": {"correct": 1, "total": 2, "accuracy": 0.5}}
    assert b["by_solutions"] == {"1-2 solutions": {"correct": 1, "total": 2, "accuracy": 0.5},
                                 "3+ solutions": {"correct": 1, "total": 1, "accuracy": 1.0}}
    base = {"label": "base", **breakdowns([dict(r, ok=False, reason="no_answer") for r in rows])}
    text = breakdown_tables([base, {"label": "run", **b}], base)
    assert "| model | +/- only | needs * or / |" in text
    assert "| run − base | +100.0 points (+1) | +50.0 points (+1) |" in text
    assert "| model | 1-2 solutions | 3+ solutions |" in text
    # the two at once: where a model's gains are (number count and operators of the same tasks)
    assert b["by_numbers_operators"] == {"3 numbers, needs * or /": {"correct": 1, "total": 2, "accuracy": 0.5},
                                         "4 numbers, +/- only": {"correct": 1, "total": 1, "accuracy": 1.0}}
    assert "| model | 3 numbers, needs * or / | 4 numbers, +/- only |" in text


def test_breakdowns_give_each_bucket_its_pass_at_k_when_tasks_were_sampled():
    def row(nums, target, oks):
        return {"nums": nums, "target": target, "n_numbers": len(nums), "ok": oks[0], "reason": "ok",
                "samples": [{"ok": ok} for ok in oks]}

    rows = [row([19, 36, 55, 7], 65, [False, False, True, False]),
            row([68, 21, 8], 100, [False, False, False, False]),
            row([68, 21, 8], 100, [True, True, False, False])]
    b = breakdowns(rows)
    assert b["by_numbers"]["3"] == {"correct": 1, "total": 2, "accuracy": 0.5, "k": 4, "pass_at_1": 0.25,
                                    "pass_at_k": 0.5}
    assert b["by_numbers"]["4"] == {"correct": 0, "total": 1, "accuracy": 0.0, "k": 4, "pass_at_1": 0.25,
                                    "pass_at_k": 1.0}
    assert b["by_operators"]["needs * or /"]["pass_at_k"] == 0.5
    text = breakdown_tables([{"label": "run", **b}])
    assert "| run | 1/2 (50.0%); pass@1 25.0%, pass@4 50.0% | 0/1 (0.0%); pass@1 25.0%, pass@4 100.0% |" in text
    assert "pass@" not in breakdown_tables([{"label": "run", **breakdowns([dict(r, samples=r["samples"][:1])
                                                                            for r in rows])}])


def test_think_block_steps_right_when_rows_carry_their_completions():
    done = "</think>\n<answer>x</answer>"
    rows = [{"nums": [19, 36, 55, 7], "target": 65, "n_numbers": 4, "ok": True, "reason": "ok",
             "completion": "36-19=17 55-7=48 17+48=65" + done},
            {"nums": [68, 21, 8], "target": 100, "n_numbers": 3, "ok": False, "reason": "wrong_value",
             "completion": "68-21=13 8+8=10" + done}]
    b = breakdowns(rows)
    assert b["think_steps"] == {"right": 3, "written": 5, "right_in_solved": 3, "written_in_solved": 3}
    base = {"label": "base", **breakdowns([dict(r, ok=False, completion="no steps" + done) for r in rows])}
    text = breakdown_tables([base, {"label": "run", **b}], base)
    assert "| think block: `a op b = c` steps right | base | run |" in text
    assert "| all answers | – | 60.0% (3/5) |" in text
    assert "| solved tasks | – | 100.0% (3/3) |" in text
    assert "think block" not in breakdown_tables([{"label": "x", **breakdowns(ROWS)}])  # rows without completions
    assert "think block" not in breakdown_tables([base])  # completions without a step: no table of dashes


def test_tables_and_difference():
    base, model = summary("base", 1, 0.25, 0.25), summary("run (final)", 3, 0.75, 0.25)
    table = main_table([base, model])
    assert "| model | correct/4 | accuracy ± stderr | format rate |" in table
    assert "| run (final) | 3/4 | 75.0% ± 25.0 | 50.0% |" in table
    assert difference(base, model) == "difference: +2 tasks, +50.0 points (± 35.4)"
    text = breakdown_tables([base, model])
    assert "| base | 1/2 (50.0%) | 0/2 (0.0%) |" in text and "| no_answer | 2 | 2 |" in text


def test_pass_at_k_columns_when_sampling():
    s = summary("m", 1, 0.25, 0.2) | {"num_samples": 4, "pass_at_k": 0.5, "maj_at_k": 0.25}
    assert "pass@4 | maj@4" in main_table([s]) and "| 50.0% | 25.0% |" in main_table([s])


def test_bar_chart_is_a_png(tmp_path):
    bar_chart([summary("base", 1, 0.25, 0.2), summary("model", 3, 0.75, 0.2)], tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gen_settings_caps_budget_and_samples():
    assert gen_settings(None, None, 1, None) == {"max_gen_toks": 1024}
    assert gen_settings(4000, 1024, 1, None) == {"max_gen_toks": 768}
    assert gen_settings(8, None, 1, 0.7) == {"max_gen_toks": 8, "do_sample": True, "temperature": 0.7}


def test_publish_moves_everything_summary_last(tmp_path):
    out = tmp_path / "eval"
    staging = staging_dir(out)
    (staging / "model").mkdir()
    for name in ("summary.json", "model/samples.jsonl", "report.md"):
        (staging / name).write_text(name)
    publish(staging, out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "model/samples.jsonl", "report.md", "summary.json"]
    assert not staging.exists()


RUN = {"backend": "hf", "test_split": "data/countdown/test.jsonl", "test_size": 500, "limit": 4, "temperature": 0.0,
       "max_gen_toks": 1024}
BASE_ROWS = [{"n_numbers": n, "ok": False, "reason": r}
             for n, r in [(3, "no_answer"), (3, "wrong_value"), (4, "no_answer"), (4, "syntax")]]


def run_summary(label, rows, stderr, k=1, **over):
    correct = sum(r["ok"] for r in rows)
    return {"label": label, "correct": correct, "total": len(rows), "accuracy": correct / len(rows), "stderr": stderr,
            "format_rate": 0.5, "num_samples": k, **breakdowns(rows), **RUN, **over}


def test_the_whole_markdown_report():
    base, model = run_summary("base", BASE_ROWS, None), run_summary("trained", ROWS, 0.25)
    assert evaluation.report.markdown_report([base, model], base, model) == """\
# Countdown evaluation (hf backend)

Held-out split: `data/countdown/test.jsonl` (4 tasks of 500, --limit 4). Greedy decoding, at most 1024 new tokens. \
Scored by `tasks.countdown.verify`.

| model | correct/4 | accuracy ± stderr | format rate |
|---|---:|---:|---:|
| base | 0/4 | 0.0% | 50.0% |
| trained | 1/4 | 25.0% ± 25.0 | 50.0% |

difference: +1 tasks, +25.0 points

## Breakdown

| model | 3 numbers | 4 numbers |
|---|---:|---:|
| base | 0/2 (0.0%) | 0/2 (0.0%) |
| trained | 1/2 (50.0%) | 0/2 (0.0%) |
| trained − base | +50.0 points (+1) | +0.0 points (+0) |

| verdict reason | base | trained |
|---|---:|---:|
| ok | 0 | 1 |
| no_answer | 2 | 2 |
| wrong_value | 1 | 1 |
| syntax | 1 | 0 |
"""


def test_a_sampled_report_without_baseline_shows_pass_and_majority():
    s = run_summary("trained", ROWS, 0.25, k=4, temperature=1.0, limit=None, pass_at_k=0.5, maj_at_k=None)
    report = evaluation.report.markdown_report([s], None, s)
    assert "(4 tasks). 4 samples at temperature 1.0, at most 1024 new tokens." in report
    assert "difference" not in report
    assert main_table([s]) == """\
| model | correct/4 | accuracy ± stderr | format rate | pass@4 | maj@4 |
|---|---:|---:|---:|---:|---:|
| trained | 1/4 | 25.0% ± 25.0 | 50.0% | 50.0% | n/a |"""


def test_a_model_worse_than_its_baseline_is_a_negative_difference():
    base, model = run_summary("base", ROWS, None), run_summary("trained", BASE_ROWS, None)
    assert difference(base, model) == "difference: -1 tasks, -25.0 points"  # no ± without both stderrs


def test_two_samples_already_show_pass_and_majority_and_a_missing_count_is_a_dash():
    s = run_summary("trained", ROWS, 0.25, k=2, temperature=1.0, pass_at_k=0.5, maj_at_k=0.25)
    assert main_table([s]).splitlines()[0].endswith("| pass@2 | maj@2 |")
    assert main_table([s]).splitlines()[1] == "|---|---:|---:|---:|---:|---:|"
    assert main_table([s]).splitlines()[2].endswith("| 50.0% | 25.0% |")
    one = run_summary("base", ROWS[:2], None)  # no 4-number task; num_samples absent means 1
    del one["num_samples"]
    assert main_table([one]).splitlines()[0] == "| model | correct/2 | accuracy ± stderr | format rate |"
    assert breakdown_tables([one, s]).splitlines()[2] == "| base | 1/2 (50.0%) | – |"
    report = evaluation.report.markdown_report([run_summary("m", ROWS, None, k=1, temperature=0.7)], None, s)
    assert "1 samples at temperature 0.7" in report  # one sample, but sampled: not "greedy"
    report = evaluation.report.markdown_report([run_summary("m", ROWS, None, k=2, temperature=0.0)], None, s)
    assert "Greedy" not in report


def test_number_counts_sort_as_numbers():
    """A user's dataset may pose 10+ numbers (the verifier allows 16): columns go 3, 4, 10, not 10, 3, 4."""
    rows = ROWS + [{"n_numbers": 10, "ok": False, "reason": "no_answer"}]
    assert breakdown_tables([run_summary("m", rows, None)]).splitlines()[0] == \
        "| model | 3 numbers | 4 numbers | 10 numbers |"
