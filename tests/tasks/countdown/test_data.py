"""`cli.py data` and tasks.countdown.data: sources, disjoint splits, determinism, manifest, errors.

    .venv/bin/python -m pytest -q tests/tasks/countdown/test_data.py

The hub path cannot succeed here (no network to the hub; conftest sets HF_HUB_OFFLINE): the
test checks it fails fast with a message that names the sources that do work.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tasks.countdown.cli import data as data_cmd
from tasks.countdown.data import (
    DataError,
    build_splits,
    default_test_tasks,
    generate_tasks,
    load_split,
    read_rows,
    task_key,
    write_dataset,
    write_jsonl,
)
from tasks.countdown.solver import is_solvable
from tests.conftest import ROOT

SMALL = dict(train_size=300, test_size=60, val_size=40, seed=7)


def run_data(*args):
    return CliRunner().invoke(data_cmd, list(map(str, args)))


def keys(rows):
    return {task_key(r) for r in rows}


def assert_one_line_error(result):
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    # One error line, last; the only other output allowed is the progress bar's label.
    assert lines and lines[-1].startswith("Error:"), result.output
    assert all(line.startswith("generating ") for line in lines[:-1]), result.output
    assert "Traceback" not in result.output
    return lines[-1]


def test_synthetic_distribution_and_solvability():
    rows = generate_tasks(200, seed=3)
    assert len(keys(rows)) == 200  # distinct
    for r in rows:
        assert 3 <= len(r["nums"]) <= 4
        assert all(1 <= n <= 100 for n in r["nums"])
        assert 10 <= r["target"] <= 100
        assert is_solvable(r["nums"], r["target"], integer_only=True)
    assert {len(r["nums"]) for r in rows} == {3, 4}


def test_synthetic_splits_disjoint_deterministic_with_manifest(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_data("--source", "synthetic", "--out", a, *_size_args(SMALL)).exit_code == 0
    assert run_data("--source", "synthetic", "--out", b, *_size_args(SMALL)).exit_code == 0
    manifest = json.loads((a / "manifest.json").read_text())
    assert manifest["source"] == "synthetic" and manifest["seed"] == 7
    splits = {}
    for name, size in (("train", 300), ("val", 40), ("test", 60)):
        raw = (a / f"{name}.jsonl").read_bytes()
        assert raw == (b / f"{name}.jsonl").read_bytes(), f"{name} differs between two identical runs"
        entry = manifest["splits"][name]
        assert entry["rows"] == size and entry["sha256"] == hashlib.sha256(raw).hexdigest()
        splits[name] = load_split(a, name)
        assert len(splits[name]) == size
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()
    assert not keys(splits["train"]) & keys(splits["test"])
    assert not keys(splits["train"]) & keys(splits["val"])
    assert not keys(splits["val"]) & keys(splits["test"])
    # A different seed gives different tasks.
    other = build_splits("synthetic", 0, 60, 0, seed=8)["test"]
    assert keys(other) != keys(splits["test"])


def test_test_split_does_not_depend_on_train_size():
    small = build_splits("synthetic", 10, 50, 5, seed=42)["test"]
    large = build_splits("synthetic", 400, 50, 5, seed=42)["test"]
    assert small == large == default_test_tasks(50, seed=42)


def _size_args(sizes):
    return ["--train-size", sizes["train_size"], "--test-size", sizes["test_size"],
            "--val-size", sizes["val_size"], "--seed", sizes["seed"]]


def _source_rows(n=150):
    rows = generate_tasks(n, seed=11)
    return rows + rows[:20]  # duplicates: must not leak across splits


@pytest.mark.parametrize("fmt", ["jsonl", "json", "parquet"])
def test_local_file_sources(tmp_path, fmt):
    rows = _source_rows()
    src = tmp_path / f"tasks.{fmt}"
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), src)
    elif fmt == "json":
        src.write_text(json.dumps(rows))
    else:
        src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert read_rows(src) == [{"nums": r["nums"], "target": r["target"]} for r in rows]

    out1, out2 = tmp_path / "o1", tmp_path / "o2"
    for out in (out1, out2):
        result = run_data("--source", src, "--out", out, "--train-size", 1000, "--test-size", 30, "--val-size", 20)
        assert result.exit_code == 0, result.output
    manifest = json.loads((out1 / "manifest.json").read_text())
    assert manifest["source"] == str(src)
    # 150 distinct tasks: 30 test, 20 val, the remaining 100 train (fewer than asked, said in the manifest).
    assert {k: v["rows"] for k, v in manifest["splits"].items()} == {"train": 100, "val": 20, "test": 30}
    assert manifest["requested"]["train"] == 1000
    parts = {name: load_split(out1 / f"{name}.jsonl") for name in ("train", "val", "test")}
    assert not keys(parts["train"]) & keys(parts["test"])
    assert not keys(parts["val"]) & (keys(parts["test"]) | keys(parts["train"]))
    assert keys(parts["train"]) | keys(parts["val"]) | keys(parts["test"]) == keys(rows)
    for name in ("train", "val", "test"):
        assert (out1 / f"{name}.jsonl").read_bytes() == (out2 / f"{name}.jsonl").read_bytes()


@pytest.mark.parametrize(
    "content,needle",
    [
        ('{"nums": [1, 2, 3]}\n', "'nums' and 'target'"),
        ('{"nums": [1, "x", 3], "target": 4}\n', "list of integers"),
        ('{"nums": 5, "target": 4}\n', "list of integers"),
        ('{"nums": [1], "target": 4}\n', "2–8 numbers"),
        ('{"nums": [1, 2, 3], "target": 4}\nnot json\n', "invalid JSON at line 2"),
        ("[1, 2, 3]\n", "'nums' and 'target'"),
        ("", "holds no tasks"),
        ("\n\n", "holds no tasks"),
    ],
)
def test_bad_rows_give_one_line(tmp_path, content, needle):
    src = tmp_path / "bad.jsonl"
    src.write_text(content)
    line = assert_one_line_error(run_data("--source", src, "--out", tmp_path / "out"))
    assert needle in line


def test_other_bad_sources_and_outputs(tmp_path):
    assert "no such file" in assert_one_line_error(run_data("--source", tmp_path / "missing.jsonl", "--out", tmp_path))
    (tmp_path / "t.csv").write_text("nums,target\n")
    assert "unsupported file type" in assert_one_line_error(run_data("--source", tmp_path / "t.csv", "--out", tmp_path))
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    assert "Parquet" in assert_one_line_error(run_data("--source", tmp_path / "broken.parquet", "--out", tmp_path))
    few = tmp_path / "few.jsonl"
    few.write_text('{"nums": [1, 2, 3], "target": 6}\n')
    assert "distinct tasks" in assert_one_line_error(run_data("--source", few, "--out", tmp_path / "o"))
    # Unwritable output: a regular file where the directory should be (chmod does not stop root).
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = assert_one_line_error(run_data("--source", "synthetic", "--out", blocker / "sub", "--train-size", 5))
    assert "cannot create output directory" in line
    # An unknown source that is not a file is taken for a hub id: offline here, one line naming the alternatives.
    assert "--source synthetic" in assert_one_line_error(run_data("--source", "no-such/dataset", "--out", tmp_path))
    with pytest.raises(DataError):
        build_splits("synthetic", 0, 0, 0, seed=1)
    assert run_data("--train-size", "-1").exit_code == 2


def run_hub(tmp_path, **env_overrides):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), **env_overrides)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "cli.py", "data", "--out", str(tmp_path / "out")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 1
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(err) == 1, proc.stderr
    assert err[0].startswith("Error: could not load hub dataset 'Jiayi-Pan/Countdown-Tasks-3to4'"), proc.stderr
    assert "--source synthetic" in err[0]
    assert not (tmp_path / "out" / "train.jsonl").exists()
    return err[0], elapsed


def test_hub_source_fails_fast_naming_the_alternatives(tmp_path):
    """Real process: the hub is unreachable here and nothing is cached, so it fails before `import datasets`."""
    line, elapsed = run_hub(tmp_path)
    assert "offline and not in the local cache" in line
    assert elapsed < 15, f"hub failure took {elapsed:.1f} s"


@pytest.mark.slow
def test_hub_source_through_datasets_fails_with_one_line(tmp_path):
    """With a (broken) cache entry the real `datasets.load_dataset` runs offline and fails: still one line."""
    (tmp_path / "hf" / "hub" / "datasets--Jiayi-Pan--Countdown-Tasks-3to4").mkdir(parents=True)
    line, _ = run_hub(tmp_path)
    assert "offline and not in the local cache" not in line


def test_default_test_tasks_match_the_written_test_split(countdown_data_dir: Path):
    assert load_split(countdown_data_dir, "test") == default_test_tasks()


def test_synthetic_splits_stay_disjoint_where_collisions_are_certain(monkeypatch):
    """In a task space of 883 keys, 300 train tasks drawn without the exclusion would meet ~34 of
    the 100 test tasks (at the default sizes, 50,000 train tasks meet about 6 of the 500): the
    splits must still share none."""
    import functools

    import tasks.countdown.data as data

    small = functools.partial(data.generate_task, min_target=10, max_target=14, min_n=3, max_n=3)
    monkeypatch.setattr(data, "generate_task", small)
    splits = data.build_splits("synthetic", train_size=300, test_size=100, val_size=100, seed=3)
    train, val, test = (keys(splits[s]) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (300, 100, 100)
    assert not train & test and not train & val and not val & test


def test_the_synthetic_splits_of_a_seed_never_change(tmp_path):
    """A result names its split by seed: the same seed must give the same tasks in every release
    (the sha256 `write_jsonl` records in the manifest, for a small build; the default 500-task split
    is checked against the written file above)."""
    s = build_splits("synthetic", 30, 20, 10, seed=42)
    digests = {k: write_jsonl(s[k], tmp_path / f"{k}.jsonl")[:16] for k in ("train", "val", "test")}
    assert digests == {"train": "1e61fe135b6cf1a8", "val": "f0ebd2c0a13bbf44", "test": "33fa79c615ecf221"}


@pytest.mark.parametrize("sizes", [(-1, 5, 5), (5, -1, 5), (5, 5, -1), (0, 0, 5)])
def test_impossible_split_sizes_are_refused(sizes):
    train, test, val = sizes
    with pytest.raises(DataError) as e:
        build_splits("synthetic", train, test, val, seed=1)
    assert str(e.value) == "split sizes must be non-negative and train + test > 0"
    assert [len(v) for v in build_splits("synthetic", 5, 5, 0, seed=1).values()] == [5, 0, 5]  # train = test is fine


def test_a_file_source_fills_test_and_val_first_then_train_as_asked(tmp_path):
    rows = _source_rows()  # 150 distinct tasks (and 20 repeats)
    src = tmp_path / "tasks.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = build_splits(str(src), 50, 30, 20, seed=1)
    assert [len(s[k]) for k in ("train", "val", "test")] == [50, 20, 30]  # as asked: enough tasks
    s = build_splits(str(src), 1000, 100, 49, seed=1)
    assert [len(s[k]) for k in ("train", "val", "test")] == [1, 49, 100]  # the one task left
    with pytest.raises(DataError, match="150 distinct tasks, need more than test\\+val = 150"):
        build_splits(str(src), 1000, 100, 50, seed=1)


def test_generation_reports_progress_per_thousand_tasks():
    calls = []
    build_splits("synthetic", 3500, 10, 10, seed=1, progress=calls.append)
    assert calls == [1000, 1000, 1000]


def test_split_sha256_is_the_files_and_follows_a_rewrite(tmp_path):
    """What says two splits are the same tasks (compare's one split, the sweep's cache key): the
    file's sha256, cached per version of the file, so a rewritten split is hashed again."""
    import hashlib

    from tasks.countdown.data import split_sha256

    f = tmp_path / "test.jsonl"
    write_jsonl([{"nums": [1, 2, 3], "target": 6}], f)
    first = split_sha256(f)
    assert first == hashlib.sha256(f.read_bytes()).hexdigest() == split_sha256(str(f))
    write_jsonl([{"nums": [1, 2, 3], "target": 6}, {"nums": [2, 3, 4], "target": 9}], f)
    assert split_sha256(f) == hashlib.sha256(f.read_bytes()).hexdigest() != first
