"""Resolving --model / --baseline: run dirs (run.json, newest complete checkpoint), model dirs,
hub ids, and the clear errors for everything else.

    .venv/bin/python -m pytest -q tests/evaluation/test_targets.py
"""

from __future__ import annotations

import json
import shutil

import pytest

from evaluation.targets import EvalError, embedded_run, resolve_target


def test_run_dir_gives_model_split_and_baseline(fake_run, small_split):
    t = resolve_target(fake_run)
    assert t.model == str((fake_run / "final").resolve())
    assert t.test_file == str(small_split)
    assert t.baseline == str(fake_run / "sft")
    assert t.run_dir == fake_run.resolve() and t.label == "tiny-r1-countdown (final)"


def test_run_without_final_uses_newest_complete_checkpoint(tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    for step in (5, 20):
        shutil.copytree(tiny_model_dir, run / f"checkpoint-{step}")
    (run / "checkpoint-30").mkdir()  # an interrupted save: no weights
    (run / "checkpoint-30" / "config.json").write_text("{}")
    (run / "run.json").write_text(json.dumps({"baseline": "Qwen/Qwen2.5-1.5B-Instruct"}))
    t = resolve_target(run)
    assert t.model.endswith("checkpoint-20") and t.baseline == "Qwen/Qwen2.5-1.5B-Instruct"


def test_untrained_run_names_the_train_command(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"model": "final", "baseline": "sft"}))
    with pytest.raises(EvalError, match="make train"):
        resolve_target(tmp_path)


def test_model_dir_and_hub_id(tiny_model_dir):
    assert resolve_target(tiny_model_dir).model == str(tiny_model_dir.resolve())
    assert resolve_target("Qwen/Qwen2.5-1.5B-Instruct").model == "Qwen/Qwen2.5-1.5B-Instruct"


@pytest.mark.parametrize("spec", ["./no/such/dir", "/no/such/model", "nonsense"])
def test_missing_checkpoint_is_an_error(spec):
    with pytest.raises(EvalError, match="no such model"):
        resolve_target(spec)


def test_empty_dir_and_file_are_errors(tmp_path):
    with pytest.raises(EvalError, match="neither a run directory"):
        resolve_target(tmp_path)
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(EvalError, match="is a file"):
        resolve_target(tmp_path / "x.txt")


def test_embedded_run_missing_names_make_train(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("common.run_dir.REPO_ROOT", tmp_path)  # a repo where `make train` has not run yet
    with pytest.raises(EvalError, match=r"make train.*cli.py train"):
        embedded_run()
