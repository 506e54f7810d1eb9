"""evaluation/model_card.py: the run's own card from what the run directory holds."""

from __future__ import annotations

import json

import yaml

from evaluation.model_card import model_card, write_model_card
from evaluation.runner import breakdowns


def lay_out(run, *, test_table=True):
    (run / "final").mkdir(parents=True)
    (run / "data").mkdir()
    (run / "data" / "test.jsonl").write_text('{"nums": [1, 2, 3], "target": 6}\n' * 3)
    (run / "run.json").write_text(json.dumps({"model": "final", "baseline": "sft", "final_from": "checkpoint-40",
                                              "global_step": 50, "test_split": str(run / "data/test.jsonl")}))
    (run / "config.yaml").write_text(yaml.safe_dump({"model_name_or_path": "Qwen/Qwen2.5-1.5B-Instruct",
                                                     "max_steps": 50, "learning_rate": 1e-6, "beta": 0.04}))
    summary = {"final_val_accuracy": 0.125}
    if test_table:
        summary["test"] = {"baseline": {"correct": 8, "total": 500, "accuracy": 0.016},
                           "trained": {"correct": 72, "total": 500, "accuracy": 0.144, "scorer": "lm-eval, hf"},
                           "gain_points": 12.8, "tasks": 500, "test_split": "data/test.jsonl"}
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "README.md").write_text("This model is a fine-tuned version of [None](https://huggingface.co/None).")


def test_the_card_says_what_the_run_is(tmp_path):
    run = tmp_path / "r1-qwen"
    lay_out(run)
    path = write_model_card(run)
    card = path.read_text()
    assert card.startswith("---\nbase_model: Qwen/Qwen2.5-1.5B-Instruct\n")
    assert "fine-tuned version of" not in card
    assert "from checkpoint-40 after 50 GRPO steps (validation accuracy 12.5%)" in card
    assert "| learning_rate | 1e-06 |" in card and "| beta | 0.04 |" in card
    assert "| baseline | 8/500 | 1.6% |" in card and "| trained (final) | 72/500 | 14.4% |" in card
    assert "GRPO gain: +12.8 points." in card
    assert f"test `{run / 'data/test.jsonl'}` (3 tasks)" in card
    assert f"python cli.py serve --model {run}" in card
    assert (run / "final" / "README.md").read_text() == card


def test_cli_evaluate_table_wins_over_the_end_of_run_one(tmp_path):
    run = tmp_path / "r"
    lay_out(run)
    rows = [{"n_numbers": 3, "ok": i < 2, "reason": "ok" if i < 2 else "no_answer"} for i in range(4)]
    s = {"backend": "hf", "max_gen_toks": 1024, "test_split": "t.jsonl", "total": 4, "stderr": None,
         "format_rate": 1.0, "num_samples": 1, **breakdowns(rows)}
    (run / "eval").mkdir()
    (run / "eval" / "summary.json").write_text(json.dumps({
        "model": {**s, "label": "r (final)", "correct": 2, "accuracy": 0.5},
        "baseline": {**s, "label": "baseline: sft", "correct": 0, "accuracy": 0.0}}))
    card = model_card(run)
    assert "Scored by `python cli.py evaluate` (lm-eval, hf backend, greedy, at most 1024 new tokens)" in card
    assert "| r (final) | 2/4 |" in card and "difference: +2 tasks" in card
    assert "GRPO gain" not in card


def test_a_run_not_scored_yet_says_how_to_score_it(tmp_path):
    run = tmp_path / "r"
    lay_out(run, test_table=False)
    assert f"Not scored yet: `python cli.py evaluate --model {run}`." in model_card(run)


def test_the_tiny_base_has_no_hub_id(tmp_path):
    run = tmp_path / "r"
    lay_out(run)
    (run / "config.yaml").write_text(yaml.safe_dump({"model_name_or_path": "tiny"}))
    card = model_card(run)
    assert "base_model: null" in card and "the tiny random-weight model mini-r1 builds" in card


def test_a_shortened_run_says_so_in_its_card(tmp_path):
    """train.phases: a run a budget cut short carries one line, in the card as in the table and summary."""
    from train.phases import shortened_note

    run = tmp_path / "r1"
    lay_out(run)
    note = shortened_note({"GRPO": {"seconds": 900.0, "steps": 73, "planned_steps": 120,
                                    "stopped_by": "its 15-min wall-clock cap"}})
    summary = json.loads((run / "summary.json").read_text()) | {"shortened": note}
    (run / "summary.json").write_text(json.dumps(summary))
    card = model_card(run)
    assert card.count("SHORTENED RUN") == 1 and "GRPO stopped at step 73 of 120 (its 15-min wall-clock cap)" in card
    lay_out(tmp_path / "full")
    assert "SHORTENED" not in model_card(tmp_path / "full")
