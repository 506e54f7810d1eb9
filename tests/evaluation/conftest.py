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


@pytest.fixture(scope="session")
def fake_run(tiny_model_dir, small_split, tmp_path_factory) -> Path:
    """A finished run: the tiny model as both the trained model and the cold-start baseline."""
    run = tmp_path_factory.mktemp("runs") / "tiny-r1-countdown"
    shutil.copytree(tiny_model_dir, run / "final")
    shutil.copytree(tiny_model_dir, run / "sft")
    (run / "run.json").write_text(json.dumps(
        {"model": "final", "baseline": "sft", "test_split": str(small_split), "recipe": "config.yaml"}))
    return run
