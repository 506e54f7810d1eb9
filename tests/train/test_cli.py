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
    # Each process generates its own 128 completions: 2 processes make a step of 16 whole groups.
    assert "per optimizer step 256 completions = 128 x 2 processes x 1 accumulation = 16 prompts x 16 " \
           "generations" in r.output
    command = next(line for line in r.output.splitlines() if line.startswith("command: "))
    assert command == ("command: accelerate launch --config_file train/accelerate/ddp.yaml --num_processes 2 "
                       "--num_machines 1 cli.py train")


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


# --- a launch that cannot work is one line, before any process or model starts ----------------------------

@pytest.fixture
def as_gpu_recipe(monkeypatch):
    """The launch checks see the recipe as a GPU one (use_cpu off): a real GPU recipe's GRPOConfig
    needs CUDA to resolve, so a CPU recipe stands in and only its use_cpu is dropped for the check."""
    import train.launch

    real = train.launch.check_launch

    def check(cfg, *a):
        cfg.grpo.use_cpu = False
        return real(cfg, *a)

    monkeypatch.setattr(train.launch, "check_launch", check)


def test_more_gpus_than_present(shrunk_recipe, monkeypatch, as_gpu_recipe):
    """Mocked: this machine has no GPU, so the launch checks are told there are 4."""
    import train.launch

    monkeypatch.setattr(train.launch, "visible_gpus", lambda: (4, True, "H100"))
    r = invoke("--config", str(shrunk_recipe()), "--num-gpus", "8")
    _one_line_error(r, "--num-gpus 8, but this machine has 4 visible GPU(s)")


def test_no_gpu_for_a_gpu_recipe(shrunk_recipe, as_gpu_recipe):
    r = invoke("--config", str(shrunk_recipe()), "--num-gpus", "2")
    _one_line_error(r, "no CUDA GPU is visible here")


def test_zero_with_bf16_on_a_gpu_without_bf16(shrunk_recipe, monkeypatch):
    """Mocked: a V100-like GPU (CUDA present, no bf16) seen by the launch checks."""
    import train.launch
    from train.config import ConfigError, resolve
    from train.launch import ACCELERATE_DIR, check_launch

    cfg = resolve(shrunk_recipe(), neutralise_gpu_checks=True)
    cfg.grpo.use_cpu, cfg.grpo.bf16 = False, True  # the GPU recipe's settings (they need CUDA to resolve)
    monkeypatch.setattr(train.launch, "visible_gpus", lambda: (8, False, "Tesla V100"))
    with pytest.raises(ConfigError, match="runs ZeRO in bf16, which Tesla V100 does not support"):
        check_launch(cfg, 8, ACCELERATE_DIR / "zero3.yaml")
    check_launch(cfg, 8, ACCELERATE_DIR / "ddp.yaml")  # plain DDP is not refused here


@pytest.mark.parametrize("content, needle", [
    ("distributed_type: DEEPSPEED\ndeepspeed_config: {zero_stage: 3\n", "invalid YAML"),
    ("just: a mapping\n", "not an accelerate config"),
    ("distributed_type: DEEPSPEED\ndeepspeed_config: {zero_stage: 7}\n", "DeepSpeed rejects the config"),
    ("distributed_type: DEEPSPEED\ndeepspeed_config: {deepspeed_config_file: DSFILE}\n", "does not parse"),
])
def test_deepspeed_config_that_does_not_parse(shrunk_recipe, tmp_path, content, needle):
    ds_file = tmp_path / "ds.json"
    ds_file.write_text("{\"zero_optimization\": ")
    bad = tmp_path / "bad.yaml"
    bad.write_text(content.replace("DSFILE", str(ds_file)))
    r = invoke("--config", str(shrunk_recipe()), "--num-gpus", "2", "--accelerate-config", str(bad))
    _one_line_error(r, needle)
