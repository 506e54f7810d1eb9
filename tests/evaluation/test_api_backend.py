"""The api backend for real: a vLLM OpenAI-compatible server on the tiny model (started here,
loopback only, on a free port, with an API key and the deepseek_r1 reasoning parser that
`cli.py serve` may use), evaluated through lm-eval's chat-completions model.

    .venv/bin/python -m pytest -q tests/evaluation/test_api_backend.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.evaluation.conftest import free_port
from tests.evaluation.vllm_env import vllm_env

KEY = "test-key"
NAME = "tiny"


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_model_dir),
           "--served-model-name", NAME, "--host", "127.0.0.1", "--port", str(port), "--api-key", KEY,
           "--dtype", "float32", "--max-model-len", "1024", "--enforce-eager", "--gpu-memory-utilization", "0.3",
           "--reasoning-parser", "deepseek_r1"]
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=vllm_env())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 600  # about 2 minutes cold on 2 free cores; more when the machine is busy
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):
                    break
            except OSError:
                if time.time() > deadline:
                    pytest.fail(f"vLLM server not healthy in time:\n{log.read_text()[-3000:]}")
                time.sleep(2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow
def test_server_continues_the_prefill(server, tiny_model_dir):
    """What the api model relies on: with continue_final_message the server renders exactly the
    project's prompt (ending inside the assistant's prefill)."""
    from transformers import AutoTokenizer

    from tasks.countdown.prompt import build_messages, render_prompt

    body = {"model": NAME, "messages": build_messages([19, 36, 55, 7], 65),
            "add_generation_prompt": False, "continue_final_message": True}
    req = urllib.request.Request(server + "/tokenize", json.dumps(body).encode(),
                                 {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        tokens = json.loads(resp.read())["tokens"]
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert tokens == tok(render_prompt(tok, [19, 36, 55, 7], 65), add_special_tokens=False)["input_ids"]


@pytest.mark.slow
def test_api_backend_evaluates_the_served_model(server, small_split, tmp_path):
    import cli

    out = tmp_path / "eval"
    result = CliRunner().invoke(cli.main, [
        "evaluate", "--backend", "api", "--base-url", server, "--api-key", KEY, "--test-file", str(small_split),
        "--limit", "4", "--max-gen-toks", "8", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"| {NAME} | 0/4 |" in result.output
    summary = json.loads((out / "summary.json").read_text())["model"]
    assert summary["backend"] == "api" and summary["total"] == 4 and summary["model"] == NAME
    rows = [json.loads(x) for x in (out / "model/samples.jsonl").read_text().splitlines()]
    # The reasoning parser puts an unfinished think block in `reasoning`; it must come back as the completion.
    assert all(r["completion"] for r in rows)
    messages = json.loads(rows[0]["prompt"])  # what was sent: the project's messages, ending in the prefill
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert messages[-1]["content"] == "Let me solve this step by step.\n<think>"


@pytest.mark.slow
def test_api_backend_wrong_key_is_one_clear_error(server, small_split, tmp_path):
    import cli

    result = CliRunner().invoke(cli.main, [
        "evaluate", "--backend", "api", "--base-url", server, "--api-key", "wrong", "--test-file", str(small_split),
        "--limit", "2", "--out", str(tmp_path / "eval")])
    assert result.exit_code == 1 and "HTTP 401" in result.output and "--api-key" in result.output
    assert not (tmp_path / "eval").exists()
