"""Fixtures of the evaluation tests: a run directory laid out as `cli.py train` writes it
(run.json + final/ + sft/), holding the random-weight tiny model, and a small held-out split."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from tasks.countdown.data import load_split, write_jsonl

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def small_split(countdown_data_dir, tmp_path_factory) -> Path:
    """The first 12 tasks of the synthetic test split, mixing 3- and 4-number tasks."""
    rows = load_split(countdown_data_dir, "test")[:12]
    assert {len(r["nums"]) for r in rows} == {3, 4}
    path = tmp_path_factory.mktemp("split") / "test.jsonl"
    write_jsonl(rows, path)
    return path


def lay_out_run(parent: Path, model: Path, baseline: Path, split: Path) -> Path:
    """A run directory as `cli.py train` leaves it: final/, the cold-start baseline sft/, run.json."""
    run = parent / "tiny-r1-countdown"
    shutil.copytree(model, run / "final")
    shutil.copytree(baseline, run / "sft")
    (run / "run.json").write_text(json.dumps(
        {"model": "final", "baseline": "sft", "test_split": str(split), "recipe": "config.yaml"}))
    return run


@pytest.fixture(scope="session")
def fake_run(tiny_model_dir, small_split, tmp_path_factory) -> Path:
    """A finished run: the tiny model as both the trained model and the cold-start baseline."""
    return lay_out_run(tmp_path_factory.mktemp("runs"), tiny_model_dir, tiny_model_dir, small_split)


@pytest.fixture(scope="session")
def taught_split(countdown_data_dir, tmp_path_factory) -> Path:
    """The 8 train tasks the taught model partly memorised, as a held-out split: none of them is
    among the default test tasks, so an evaluation that scored the defaults instead of this file
    could not reproduce the model's hits."""
    from tasks.countdown.data import default_test_tasks, task_key
    from tests.conftest import TAUGHT_ROWS

    rows = load_split(countdown_data_dir, "train")[TAUGHT_ROWS]
    assert not {task_key(r) for r in rows} & {task_key(r) for r in default_test_tasks()}
    path = tmp_path_factory.mktemp("taught-split") / "test.jsonl"
    write_jsonl(rows, path)
    return path


@pytest.fixture(scope="session")
def taught_run(taught_model_dir, tiny_model_dir, taught_split, tmp_path_factory) -> Path:
    """A finished run whose model and baseline differ: final/ is the taught model (greedy, it solves
    most of its split), the baseline is the random-weight tiny model (it solves none)."""
    return lay_out_run(tmp_path_factory.mktemp("taught-runs"), taught_model_dir, tiny_model_dir, taught_split)
