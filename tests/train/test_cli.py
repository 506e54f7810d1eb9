"""`cli.py train` from the outside: --dry-run of the GPU recipe on this CPU machine, and every
bad input stopped with one line and a non-zero exit before any training step."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main


def invoke(*args):
    return CliRunner().invoke(main, ["train", *args], catch_exceptions=False)


def test_dry_run_of_the_reference_recipe_here():
    r = invoke("--config", "train/recipes/grpo-1.5b.yaml", "--dry-run", "--num-gpus", "8",
               "--accelerate-config", "zero3")
    assert r.exit_code == 0, r.output
    assert "192 completions = 8 x 8 processes x 3 accumulation = 24 prompts x 8 generations" in r.output
    assert "parsed by deepspeed.runtime.config.DeepSpeedConfig" in r.output
    assert ("command: accelerate launch --config_file train/accelerate/zero3.yaml --num_processes 8 "
            "--num_machines 1 cli.py train --config train/recipes/grpo-1.5b.yaml") in r.output


def test_dynamic_sampling_dry_run_on_several_processes():
    r = invoke("--dry-run", "--num-gpus", "2")  # the embedded recipe samples dynamically
    assert r.exit_code == 0, r.output
    assert "--num_processes 2" in r.output


def test_dry_run_multi_node_command():
    r = invoke("--config", "train/recipes/grpo-1.5b.yaml", "--dry-run", "--num-gpus", "8", "--num-nodes", "2",
               "--accelerate-config", "multi-node", "--set", "per_device_train_batch_size=4")
    assert r.exit_code == 0, r.output
    assert "--num_processes 16 --num_machines 2" in r.output and "--machine_rank" in r.output
    assert "192 completions = 4 x 16 processes x 3 accumulation = 24 prompts" in r.output


def _one_line_error(r, needle):
    assert r.exit_code != 0
    # progress lines ("[train] ...") may precede it; the error itself is one line
    err = [line for line in r.output.strip().splitlines() if not line.startswith("[train]")]
    assert len(err) == 1 and "Traceback" not in r.output, r.output
    assert needle in err[0], err


def test_unknown_key(shrunk_recipe):
    _one_line_error(invoke("--config", str(shrunk_recipe(max_stepz=3))), "unknown config key 'max_stepz'")


def test_missing_model_path(shrunk_recipe, tmp_path):
    r = invoke("--config", str(shrunk_recipe(model_name_or_path=str(tmp_path / "nope"))))
    _one_line_error(r, "model path not found")


def test_unreadable_model_dir(shrunk_recipe, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    _one_line_error(invoke("--config", str(shrunk_recipe(model_name_or_path=str(broken)))), "unreadable config.json")


def test_rows_without_nums(shrunk_recipe, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"numbers": [1, 2, 3], "target": 6}) + "\n")
    _one_line_error(invoke("--config", str(shrunk_recipe(dataset=str(bad)))), "needs 'nums' and 'target'")


def test_empty_dataset(shrunk_recipe, tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    for s in ("val", "test"):
        (d / f"{s}.jsonl").write_text(json.dumps({"nums": [1, 2, 3], "target": 6}) + "\n")
    (d / "train.jsonl").write_text("")
    _one_line_error(invoke("--config", str(shrunk_recipe(dataset=str(d)))), "holds no tasks")


def test_output_dir_not_writable(shrunk_recipe, tmp_path):
    # Tests run as root, for whom chmod does not bite: a path under a regular file cannot be created by anyone.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    r = invoke("--config", str(shrunk_recipe(output_dir=str(blocker / "run"))))
    _one_line_error(r, "cannot create output directory")


@pytest.mark.parametrize("flag", [["--accelerate-config", "zero9"]])
def test_unknown_accelerate_config(flag):
    r = invoke("--config", "train/recipes/grpo-1.5b.yaml", "--dry-run", "--num-gpus", "2", *flag)
    _one_line_error(r, "unknown accelerate config 'zero9'")
