"""Bad input to `serve` and `demo` gets one clear line and a non-zero exit, never a traceback:
missing or half-trained model paths, a busy port, a server that never becomes healthy (with
the log tail), a demo with no trained run, an unreachable --base-url."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT


def run_cli(*args, timeout=180, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def assert_clean_error(res, *needles):
    assert res.returncode != 0
    assert "Traceback" not in res.stderr + res.stdout
    for n in needles:
        assert n in res.stderr, res.stderr


def fake_model(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for f in ("config.json", "model.safetensors", "tokenizer.json"):
        (d / f).write_text("{}")
    return d


def test_missing_model_path():
    assert_clean_error(run_cli("serve", "--model", "/no/such/model"), "model path does not exist: /no/such/model")


def test_run_dir_resolution(tmp_path):
    from common.run_dir import resolve_model_dir

    run = tmp_path / "runs" / "r1"
    fake_model(run / "checkpoint-50")
    fake_model(run / "checkpoint-100")
    (run / "checkpoint-150").mkdir()  # being written: no weights yet, must be skipped
    (run / "run.json").write_text(json.dumps({"model": "final"}))
    assert resolve_model_dir(run) == (run / "checkpoint-100").resolve()  # no final/ yet: newest complete
    fake_model(run / "final")
    assert resolve_model_dir(run) == (run / "final").resolve()


def test_run_dir_without_any_model(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"model": "final"}))
    res = CliRunner().invoke(_main(), ["serve", "--model", str(tmp_path)])
    assert res.exit_code == 1 and "no finished model" in res.output


def test_port_in_use(tmp_path):
    model = fake_model(tmp_path / "m")  # the port is checked before vLLM starts: no real model needed
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = run_cli("serve", "--model", str(model), "--port", str(port))
    assert_clean_error(res, f"port {port} on 127.0.0.1 is already in use")


@pytest.mark.slow
def test_never_healthy_shows_log_tail_and_stops(tiny_model_dir, tmp_path):
    import psutil

    from serve.server import free_port

    port = free_port()
    log = tmp_path / "vllm.log"
    res = run_cli("serve", "--model", str(tiny_model_dir), "--port", str(port), "--health-timeout", "4",
                  "--log-file", str(log))
    assert_clean_error(res, "not healthy after 4 s", f"log tail ({log})")
    time.sleep(1)
    left = [p for p in psutil.process_iter(["cmdline"]) if str(port) in " ".join(p.info["cmdline"] or [])]
    assert not left, "the timed-out server's processes must be stopped"


@pytest.mark.slow
def test_demo_whose_server_crashes_shows_log_tail(tmp_path):
    # `demo` without --base-url starts vLLM itself; '{}' is no model config, so vLLM exits
    # during start-up and the demo must say so (with the log), not hang or trace back.
    model = fake_model(tmp_path / "broken")
    res = run_cli("demo", "--model", str(model), "--port", str(_free()), "--health-timeout", "300")
    assert_clean_error(res, "exited with code", "log tail", "starting vLLM on")


def _main():
    import importlib

    return importlib.import_module("cli").main


def test_demo_without_trained_run_names_make_train(tmp_path, monkeypatch):
    import common.run_dir

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(common.run_dir, "REPO_ROOT", tmp_path)  # a repo where `make train` has not run yet
    res = CliRunner().invoke(_main(), ["demo", "--port", str(_free())])
    assert res.exit_code == 1
    assert "make train" in res.output and "runs/tiny-r1-countdown" in res.output


def test_demo_unreachable_base_url():
    res = run_cli("demo", "--base-url", f"http://127.0.0.1:{_free()}", "--port", str(_free()), timeout=120)
    assert_clean_error(res, "cannot list models")


def test_demo_port_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = run_cli("demo", "--base-url", "http://127.0.0.1:1", "--port", str(port))
    assert_clean_error(res, f"port {port} on 127.0.0.1 is already in use")


def _free() -> int:
    from serve.server import free_port

    return free_port()


@pytest.mark.parametrize("args,named", [
    (["--model", "."], "--model"), (["--dtype", "bfloat16"], "--dtype"), (["--max-model-len", "512"], "--max-model-len"),
    (["--reasoning-parser", "none"], "--reasoning-parser"), (["--health-timeout", "5"], "--health-timeout"),
    (["--log-file", "x.log"], "--log-file"), (["--server-port", "8001"], "--server-port"),
    (["--", "--enforce-eager"], "extra vLLM arguments"),
])
def test_demo_base_url_refuses_server_only_options(args, named):
    # Before, all but --model and the extra arguments were silently ignored.
    res = CliRunner().invoke(_main(), ["demo", "--base-url", "http://127.0.0.1:1", "--port", str(_free()), *args])
    assert res.exit_code == 2, res.output
    assert named in res.output and "only for the server the demo starts itself" in res.output
    assert "Traceback" not in res.output
