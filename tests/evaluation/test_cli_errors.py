"""Bad input to `cli.py evaluate` gets one clear line and a non-zero exit, and leaves no
result behind: unknown backend, missing checkpoint, untrained run, empty or malformed split,
a server that is down or answers garbage.

    .venv/bin/python -m pytest -q tests/evaluation/test_cli_errors.py
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

import cli
from tests.evaluation.conftest import free_port


def run_cli(*args):
    # In a thread of its own, as a `cli.py` process has its own main thread: an earlier test on the same
    # xdist worker can leave an asyncio loop marked running on this one, and lm-eval's API model then
    # fails in asyncio.run() (seen once in CI, order-dependent).
    box = []
    worker = threading.Thread(target=lambda: box.append(CliRunner().invoke(cli.main, ["evaluate", *map(str, args)])))
    worker.start()
    worker.join()
    result = box[0]
    assert "Traceback" not in result.output, result.output
    return result


def assert_one_clear_error(result, *needles):
    assert result.exit_code != 0, result.output
    # (a progress bar on stderr may end without a newline just before the error line)
    lines = [ln for ln in result.output.splitlines() if re.search(r"(^|\]|\r)(Error|error): ", ln)]
    assert len(lines) == 1, result.output
    for n in needles:
        assert n in lines[0], result.output


def test_unknown_backend():
    assert_one_clear_error(run_cli("--backend", "tpu"), "'tpu' is not one of", "hf", "vllm", "api")


def test_missing_checkpoint(tmp_path):
    result = run_cli("--model", tmp_path / "nope", "--out", tmp_path / "out")
    assert_one_clear_error(result, "no such model or run directory")
    assert not (tmp_path / "out").exists()


def test_untrained_run_names_train(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"model": "final", "baseline": "sft"}))
    assert_one_clear_error(run_cli("--model", tmp_path), "make train", "cli.py train")


@pytest.mark.parametrize(("content", "needle"), [
    ("", "holds no tasks"),
    ('{"nums": [1, 2, 3], "target": 6}\nnot json\n', "invalid JSON"),
    ('{"numbers": [1, 2, 3]}\n', "'nums' and 'target'"),
])
def test_empty_or_malformed_split(fake_run, tmp_path, content, needle):
    bad = tmp_path / "test.jsonl"
    bad.write_text(content)
    out = tmp_path / "out"
    assert_one_clear_error(run_cli("--model", fake_run, "--test-file", bad, "--out", out), "test split", needle)
    assert not out.exists()


def test_run_whose_split_is_gone(fake_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(fake_run, run, symlinks=True)
    (run / "run.json").write_text(json.dumps({"model": "final", "test_split": str(tmp_path / "gone.jsonl")}))
    assert_one_clear_error(run_cli("--model", run), "gone.jsonl", "cli.py data")


def test_missing_baseline_fails_before_any_evaluation(fake_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(fake_run, run, symlinks=True)
    (run / "run.json").write_text(json.dumps({"model": "final", "baseline": "gone-sft"}))
    assert_one_clear_error(run_cli("--model", run), "the run's baseline", "gone-sft", "--no-baseline")
    assert_one_clear_error(run_cli("--model", run, "--baseline", tmp_path / "nope"), "--baseline", "no such model")
    assert not (run / "eval").exists()


def test_api_needs_base_url_and_server_down(tmp_path):
    assert_one_clear_error(run_cli("--backend", "api"), "--base-url")
    url = f"http://127.0.0.1:{free_port()}"
    result = run_cli("--backend", "api", "--base-url", url, "--out", tmp_path / "out", "--limit", "2")
    assert_one_clear_error(result, "cannot reach the server", url)
    assert not (tmp_path / "out").exists()


class GarbageServer(BaseHTTPRequestHandler):
    """Lists a model like an OpenAI server, then answers completions with something else.
    mode "html": everything is an HTML page; mode "json": chat completions are JSON without choices."""

    mode = "html"

    def _send(self, body: bytes, ctype: str):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        if self.mode == "html":
            return self._send(b"<html>hello</html>", "text/html")
        self._send(json.dumps({"data": [{"id": "m", "object": "model"}]}).encode(), "application/json")

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.mode == "html":
            return self._send(b"<html>hello</html>", "text/html")
        self._send(json.dumps({"id": "x", "result": "42"}).encode(), "application/json")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("mode", "needle"), [("html", "does not answer like an OpenAI-compatible API"),
                                               ("json", "not a chat completion")])
def test_server_answering_garbage(mode, needle, tmp_path, small_split):
    handler = type("H", (GarbageServer,), {"mode": mode})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        out = tmp_path / "out"
        result = run_cli("--backend", "api", "--base-url", url, "--test-file", small_split, "--limit", "2",
                         "--max-gen-toks", "8", "--out", out)
        assert_one_clear_error(result, needle)
        assert not out.exists()
    finally:
        server.shutdown()


def test_several_models_trained_on_different_splits(fake_run, tmp_path):
    """Two runs whose own test splits hold different tasks cannot share one table: one line, before
    any model is scored."""
    other = tmp_path / "other-run"
    shutil.copytree(fake_run, other, symlinks=True)
    split = tmp_path / "other-test.jsonl"
    split.write_text('{"nums": [1, 2, 3], "target": 6}\n')
    info = json.loads((other / "run.json").read_text())
    (other / "run.json").write_text(json.dumps(info | {"test_split": str(split)}))
    result = run_cli("--model", fake_run, "--model", other, "--out", tmp_path / "out")
    assert_one_clear_error(result, "different test splits", "--test-file")
    assert not (tmp_path / "out").exists()


def test_several_models_over_the_api_backend(tmp_path):
    result = run_cli("--backend", "api", "--base-url", "http://127.0.0.1:9", "--model", "a", "--model", "b")
    assert_one_clear_error(result, "several --model over the api backend")
