"""Kill a CPU run with SIGKILL partway and `--resume` it to the end: the resumed run starts
from the newest complete checkpoint (not step 1) and ends at the same global step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.train.conftest import ROOT


def _train(recipe, *extra):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "cli.py", "train", "--config", str(recipe), *extra], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)


@pytest.mark.slow
def test_sigkill_then_resume(shrunk_recipe):
    # 20 steps of ~0.2-0.3 s, a checkpoint each: the run is killed soon after checkpoint-3, with
    # seconds to spare before its end even on an idle machine (6 steps once finished between two polls)
    recipe = shrunk_recipe(max_steps=20, save_total_limit=2, val_limit=4)
    run_dir = recipe.parent / "run"
    p = _train(recipe)
    deadline = time.time() + 600
    while time.time() < deadline:
        if (run_dir / "checkpoint-3" / "trainer_state.json").is_file():
            break
        if p.poll() is not None:
            pytest.fail("run ended before it could be killed:\n" + p.stdout.read()[-2000:])
        time.sleep(0.02)
    else:
        p.kill()
        pytest.fail("no checkpoint-3 within the deadline")
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert not (run_dir / "final").exists()
    killed_at = max(int(c.name.split("-")[1]) for c in run_dir.glob("checkpoint-*")
                    if (c / "trainer_state.json").is_file())
    assert 3 <= killed_at < 20

    r = _train(recipe, "--resume")
    out, _ = r.communicate(timeout=900)
    assert r.returncode == 0, out[-3000:]
    assert f"resuming from {run_dir / f'checkpoint-{killed_at}'}" in out
    state = json.loads((run_dir / "checkpoint-20" / "trainer_state.json").read_text())
    assert state["global_step"] == 20
    steps = [json.loads(x)["step"] for x in (run_dir / "metrics.jsonl").read_text().splitlines()
             if "reward" in json.loads(x)]
    # the resumed run logged steps after the checkpoint, never step 1 again
    assert steps.count(1) == 1 and steps[-1] == 20
    assert json.loads((run_dir / "run.json").read_text())["global_step"] == 20
