"""Which rows each phase of a real run sees (train/pipeline.py): the cold start and GRPO train on
train rows, validation scores val rows, and no phase sees a test task, whether the data is a
split directory (`cli.py data`) or one file the run splits itself (which may repeat a task)."""

from __future__ import annotations

import pytest

from common.run_dir import run_split
from tasks.countdown.data import load_split, read_rows, task_key, write_jsonl
from train.config import resolve


def keys(rows) -> set:
    return {task_key(r) for r in rows}


@pytest.fixture
def seen(monkeypatch):
    """Record the rows handed to the cold start, to GRPO and to validation, then run them for real."""
    from train import grpo, sft

    got: dict = {}
    real_sft, real_build = sft.cold_start, grpo.build_trainer

    def cold_start(base, rows, *a, **kw):
        got["sft"] = list(rows)
        return real_sft(base, rows, *a, **kw)

    def build_trainer(cfg, policy, tokenizer, train_ds, val_rows, *a, **kw):
        got["grpo"] = [{"nums": n, "target": t} for n, t in zip(train_ds["nums"], train_ds["target"])]
        got["val"] = list(val_rows)
        return real_build(cfg, policy, tokenizer, train_ds, val_rows, *a, **kw)

    monkeypatch.setattr(sft, "cold_start", cold_start)
    monkeypatch.setattr(grpo, "build_trainer", build_trainer)
    return got


@pytest.fixture
def one_file_with_repeats(countdown_data_dir, tmp_path):
    """80 distinct tasks, each written twice with its numbers in another order: split row by row,
    a task would land in test and in train."""
    rows = load_split(countdown_data_dir, "train")[:80]
    twice = rows + [{**r, "nums": list(reversed(r["nums"]))} for r in rows]
    path = tmp_path / "tasks.jsonl"
    write_jsonl(twice, path)
    return path


@pytest.mark.parametrize("source", ["split dir", "one file"])
def test_no_phase_sees_a_test_task(shrunk_recipe, seen, countdown_data_dir, one_file_with_repeats, source):
    from train.pipeline import run

    dataset = countdown_data_dir if source == "split dir" else one_file_with_repeats
    cfg = resolve(shrunk_recipe(dataset=str(dataset), dataset_val_size=12, dataset_test_size=12,
                                cold_start_steps=2, cold_start_batch_size=4, max_steps=1, val_limit=8))
    run(cfg)
    test, val = (keys(read_rows(run_split(cfg.output_dir, key))) for key in ("test_split", "val_split"))
    assert test and val and not test & val
    assert len(seen["sft"]) >= 8 and len(seen["grpo"]) >= 8 and len(seen["val"]) == 8
    assert not keys(seen["sft"]) & test, "the cold start trained on test tasks"
    assert not keys(seen["grpo"]) & test, "GRPO trained on test tasks"
    assert not keys(seen["val"]) & test, "validation scored test tasks"
    assert keys(seen["val"]) <= val, "validation scored rows that are not the run's val split"
    assert not (keys(seen["sft"]) | keys(seen["grpo"])) & val, "training saw validation tasks"
