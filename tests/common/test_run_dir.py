"""The run-directory contract (common/run_dir.py): which checkpoints are resumable and which are
loadable, run.json's keys and relative paths, and a run that still finds its splits after it moved.

    .venv/bin/python -m pytest -q tests/common/test_run_dir.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from common.errors import UserError
from common.run_dir import (RunDirError, loadable_checkpoints, newest_loadable_checkpoint, newest_resumable_checkpoint,
                            read_run_json, resolve_model_dir, resumable_checkpoints, run_model, run_split,
                            split_file, write_run_json)


def fake_model(d, trainer_state=False):
    d.mkdir(parents=True)
    for f in ("config.json", "model.safetensors", "tokenizer.json"):
        (d / f).write_text("{}")
    if trainer_state:
        (d / "trainer_state.json").write_text("{}")


def test_resumable_and_loadable_checkpoints_are_different_sets(tmp_path):
    fake_model(tmp_path / "checkpoint-10", trainer_state=True)   # both
    fake_model(tmp_path / "checkpoint-200")                      # weights, no trainer state: loadable only
    (tmp_path / "checkpoint-300").mkdir()                        # being written: neither
    (tmp_path / "checkpoint-300" / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-x").mkdir()                          # not a checkpoint name
    assert resumable_checkpoints(tmp_path) == [tmp_path / "checkpoint-10", tmp_path / "checkpoint-300"]
    assert loadable_checkpoints(tmp_path) == [(10, tmp_path / "checkpoint-10"), (200, tmp_path / "checkpoint-200")]
    assert newest_resumable_checkpoint(tmp_path).name == "checkpoint-300"  # numeric order, not text order
    assert newest_loadable_checkpoint(tmp_path).name == "checkpoint-200"


def test_run_json_paths_inside_the_run_are_relative_and_keys_are_checked(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    outside = tmp_path / "elsewhere" / "test.jsonl"
    write_run_json(run, test_split=split_file(run, "test"), val_split=outside, baseline="Qwen/Qwen2.5-1.5B-Instruct")
    data = json.loads((run / "run.json").read_text())
    assert data == {"test_split": "data/test.jsonl", "val_split": str(outside),
                    "baseline": "Qwen/Qwen2.5-1.5B-Instruct"}
    with pytest.raises(ValueError, match="not run.json keys"):
        write_run_json(run, test_file="x")


def test_a_run_dir_given_relative_to_the_working_directory_stores_run_relative_paths(tmp_path, monkeypatch):
    """`make train` names its run `runs/tiny-r1-countdown`, relative to the checkout."""
    monkeypatch.chdir(tmp_path)
    run = Path("runs") / "r"
    run.mkdir(parents=True)
    write_run_json(run, test_split=split_file(run, "test"), model="final")
    assert json.loads((run / "run.json").read_text()) == {"test_split": "data/test.jsonl", "model": "final"}
    assert run_split(run) == run / "data" / "test.jsonl"


def test_a_moved_run_keeps_its_splits_and_model(tmp_path):
    from evaluation.targets import resolve_target

    run = tmp_path / "a" / "run"
    fake_model(run / "final")
    split_file(run, "test").parent.mkdir(parents=True)
    split_file(run, "test").write_text('{"nums": [1, 2, 3], "target": 6}\n')
    write_run_json(run, model="final", test_split=split_file(run, "test"), baseline="sft")
    moved = tmp_path / "b" / "copied-run"
    shutil.copytree(run, moved)
    shutil.rmtree(tmp_path / "a")
    assert run_split(moved) == moved / "data" / "test.jsonl" and run_split(moved).is_file()
    assert run_model(moved) == moved / "final"
    target = resolve_target(moved)
    assert target.test_file == str(moved / "data" / "test.jsonl") and target.model == str((moved / "final").resolve())


def test_runs_written_with_absolute_paths_still_read(tmp_path):
    split = tmp_path / "data" / "test.jsonl"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text(json.dumps({"test_split": str(split)}))
    assert run_split(tmp_path / "run") == split


def test_bad_run_dirs_are_one_line_user_errors(tmp_path):
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(RunDirError, match="run.json is unreadable"):
        read_run_json(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"model": "final"}))
    with pytest.raises(UserError, match="no finished model"):
        resolve_model_dir(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        resolve_model_dir(tmp_path / "missing")
