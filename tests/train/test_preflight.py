"""`cli.py train --preflight`: on this CPU machine the GPU-only lines say SKIP and the rest really
run (tiny model, GRPO steps, export, evaluate); a failing line is FAIL and the exit status 1."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from cli import main
from tests.conftest import ROOT


@pytest.mark.slow
def test_preflight_on_cpu():
    r = subprocess.run([sys.executable, "cli.py", "train", "--preflight"], cwd=ROOT, capture_output=True, text=True,
                       timeout=1500)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    lines = {ln[6:28].strip(): ln[:4] for ln in r.stdout.splitlines() if ln[:4] in ("PASS", "FAIL", "SKIP")}
    assert lines == {"CUDA": "SKIP", "bf16": "SKIP", "tiny model + data": "PASS", "vLLM engine generates": "SKIP",
                     "GRPO 2 steps": "PASS", "export final/": "PASS", "evaluate": "PASS",
                     "serve one request": "SKIP"}, r.stdout
    assert "preflight: PASS 4, FAIL 0, SKIP 4" in r.stdout


def test_a_failing_check_is_a_fail_line_and_exit_1(monkeypatch):
    from train import preflight

    def broken(self):
        raise RuntimeError("vLLM did not generate (exit 1; log: /tmp/x)")

    monkeypatch.setattr(preflight.Preflight, "CHECKS", [("CUDA", "cuda"), ("vLLM engine generates", "vllm_engine")])
    monkeypatch.setattr(preflight.Preflight, "vllm_engine", broken)
    r = CliRunner().invoke(main, ["train", "--preflight"])
    assert r.exit_code == 1, r.output
    assert "SKIP  CUDA" in r.output
    fail = [ln for ln in r.output.splitlines() if ln.startswith("FAIL")]
    assert len(fail) == 1 and "vLLM engine generates" in fail[0], r.output
    assert "RuntimeError: vLLM did not generate (exit 1; log: /tmp/x)" in fail[0]
    assert "preflight: PASS 0, FAIL 1, SKIP 1" in r.output and "Traceback" not in r.output


def test_preflight_takes_no_other_option():
    r = CliRunner().invoke(main, ["train", "--preflight", "--num-gpus", "2"])
    assert r.exit_code == 2 and "--preflight takes no other option" in r.output
