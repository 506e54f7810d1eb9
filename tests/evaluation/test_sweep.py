"""`cli.py evaluate --checkpoints`: every kept checkpoint of a run on its test split, read back
from its cache when the settings match, continued after an interruption.

The slow test uses a run laid out from the two test models: checkpoint-1 is the random-weight
model, checkpoint-2 and final/ the taught one, so the curve has to rise between the two steps."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from evaluation.sweep import sweep_points, sweep_table, training_curves
from evaluation.targets import EvalError

ROOT = Path(__file__).resolve().parents[2]
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def fake_run(tmp_path, steps=(10, 20, 30), final_from="checkpoint-20"):
    run = tmp_path / "run"
    for d in [f"checkpoint-{s}" for s in steps] + ["final"]:
        (run / d).mkdir(parents=True)
        for f in MODEL_FILES:
            (run / d / f).write_text("{}")
    (run / "checkpoint-40").mkdir()  # half-written: no weights, never swept
    (run / "run.json").write_text(json.dumps({"model": "final", "final_from": final_from, "global_step": 30}))
    return run


def test_all_is_every_loadable_checkpoint_then_final(tmp_path):
    run = fake_run(tmp_path)
    points = sweep_points(run, "all")
    assert [(p.name, p.step) for p in points] == [("checkpoint-10", 10), ("checkpoint-20", 20), ("final", 20),
                                                 ("checkpoint-30", 30)]
    assert [p.name for p in sweep_points(run, "final,10")] == ["checkpoint-10", "final"]


def test_a_final_averaged_from_several_sits_at_the_last_step(tmp_path):
    run = fake_run(tmp_path, final_from="average of checkpoint-20, checkpoint-30")
    assert [(p.name, p.step) for p in sweep_points(run, "all")][-1] == ("final", 30)


@pytest.mark.parametrize(("spec", "needle"), [("25", "no such kept checkpoint"), ("40", "kept steps: 10, 20, 30"),
                                              ("ten", "'ten'")])
def test_a_step_that_does_not_exist(tmp_path, spec, needle):
    with pytest.raises(EvalError, match=needle):
        sweep_points(fake_run(tmp_path), spec)


def test_a_run_without_checkpoints(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text("{}")
    with pytest.raises(EvalError, match="no kept checkpoints"):
        sweep_points(tmp_path / "run", "all")


def test_curves_and_table(tmp_path):
    (tmp_path / "metrics.jsonl").write_text(
        '{"step": 0, "val_accuracy": 0.1}\n{"step": 1, "reward": 1.0, "accuracy": 0.5}\nnot json\n'
        '{"step": 1, "val_accuracy": 0.25}\n')
    curves = training_curves(tmp_path)
    assert curves == {"val": [(0, 0.1), (1, 0.25)], "train": [(1, 0.5)]}
    row = {"label": "checkpoint-1", "step": 1, "correct": 2, "total": 8, "accuracy": 0.25, "stderr": 0.16}
    table = sweep_table([row], {"correct": 0, "total": 8, "accuracy": 0.0, "stderr": 0.0}, dict(curves["val"]))
    assert "| – | baseline | 0/8 | 0.0% ± 0.0 | – |" in table
    assert "| 1 | checkpoint-1 | 2/8 | 25.0% ± 16.0 | 25.0% |" in table


def test_the_api_backend_says_why_not():
    r = CliRunner().invoke(cli.main, ["evaluate", "--backend", "api", "--base-url", "http://127.0.0.1:9",
                                      "--checkpoints", "all"])
    assert r.exit_code == 2 and "a server serves one checkpoint" in r.output and "Traceback" not in r.output


def test_a_missing_step_is_one_line(tmp_path):
    run = fake_run(tmp_path)
    r = CliRunner().invoke(cli.main, ["evaluate", "--model", str(run), "--checkpoints", "25"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert [ln for ln in r.output.splitlines() if ln.startswith("Error:")] == [
        f"Error: --checkpoints '25': no such kept checkpoint in {run.resolve()} (kept steps: 10, 20, 30; "
        "or 'final', or 'all')"]


@pytest.fixture
def stepped_run(taught_run, tiny_model_dir, tmp_path):
    run = tmp_path / "stepped"
    shutil.copytree(taught_run, run, symlinks=True)
    shutil.copytree(tiny_model_dir, run / "checkpoint-1")
    shutil.copytree(taught_run / "final", run / "checkpoint-2")
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps(info | {"final_from": "checkpoint-2", "global_step": 2}))
    (run / "metrics.jsonl").write_text('{"step": 1, "reward": 0.5, "accuracy": 0.1}\n{"step": 1, "val_accuracy": 0.0}\n'
                                       '{"step": 2, "reward": 1.5, "accuracy": 0.6}\n{"step": 2, "val_accuracy": 0.5}\n')
    shutil.rmtree(run / "eval", ignore_errors=True)
    return run


def sweep_cli(run, *extra, interrupt_after: str | None = None) -> tuple[int, str, str]:
    """`cli.py evaluate --model RUN --checkpoints all` in its own process; with `interrupt_after`, a
    real Ctrl-C (SIGINT) as soon as stderr shows that line, i.e. while the next point is scored."""
    cmd = [sys.executable, str(ROOT / "cli.py"), "evaluate", "--model", str(run), "--checkpoints", "all",
           "--max-gen-toks", "48", *extra]
    # SIGINT back to its default in the child: a test run started in the background (`make test &`,
    # a CI runner) inherits SIGINT ignored, and Python then never turns it into KeyboardInterrupt.
    proc = subprocess.Popen(cmd, cwd=run.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    err = []
    if interrupt_after:
        for line in proc.stderr:
            err.append(line)
            if interrupt_after in line:
                proc.send_signal(signal.SIGINT)
                break
    out, rest = proc.communicate(timeout=900)
    return proc.returncode, out, "".join(err) + rest


@pytest.mark.slow
def test_sweep_scores_each_checkpoint_once_and_continues_after_an_interruption(stepped_run):
    rc, _, err = sweep_cli(stepped_run, interrupt_after="[1/4] baseline: 0/8")
    # The Ctrl-C stops checkpoint-1's scoring, or, when it lands in a __del__ there (Python swallows it),
    # stops the sweep right after checkpoint-1 (common/interrupts.py): never later, never lost.
    kept = 2 if "interrupted: 2 of 4 points" in err else 1
    assert rc == 130 and f"interrupted: {kept} of 4 points are scored and kept" in err, err[-2000:]
    out = stepped_run / "eval" / "sweep"
    assert (out / "baseline" / "summary.json").is_file() and (out / "checkpoint-1").exists() == (kept == 2)

    rc, stdout, err = sweep_cli(stepped_run)
    assert rc == 0, err[-3000:]
    assert err.count("read back (same settings)") == kept  # the points kept; the others scored now
    assert "[4/4] final: " in err and "tasks/s); 0 left" in err  # progress: points done and left, speed
    rows = {ln.split("|")[2].strip(): ln for ln in stdout.splitlines() if ln.startswith("| ") and "/8 |" in ln}
    assert set(rows) == {"baseline", "checkpoint-1", "checkpoint-2", "final"}
    s = json.loads((out / "sweep.json").read_text())
    by = {p["label"]: p for p in s["points"]}
    assert by["checkpoint-1"]["correct"] == 0 < by["checkpoint-2"]["correct"] == by["final"]["correct"]
    assert by["final"]["step"] == 2 and s["baseline"]["correct"] == 0
    assert s["val_accuracy"] == [[1, 0.0], [2, 0.5]]
    assert "| 2 | checkpoint-2 |" in rows["checkpoint-2"] and rows["checkpoint-2"].endswith("| 50.0% |")
    assert (out / "accuracy_vs_step.png").stat().st_size > 10_000

    rc, again, err = sweep_cli(stepped_run)  # nothing new: every point read back, the same table
    assert rc == 0 and err.count("read back (same settings)") == 4 and again == stdout
    rc, _, err = sweep_cli(stepped_run, "--limit", "6")  # other settings: scored again
    assert rc == 0 and "read back" not in err
