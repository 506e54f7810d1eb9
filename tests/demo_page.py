"""`cli.py demo` as a user starts it, for the browser tests: the command in its own process, waited
for until the page answers; and a stand-in for a model server that answers only the demo's
start-up /v1/models, for pages that need no model (the Run tab) or one that has gone away."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.served import cli_env


def start_demo(base_url: str, api_key: str, log: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """`cli.py demo --base-url BASE_URL ...` on a free port; (its process, the page's URL)."""
    from serve.server import free_port

    port = free_port()
    with open(log, "wb") as f:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), "demo", "--base-url", base_url, "--api-key",
             api_key, "--port", str(port), "--max-tokens", "64", *extra],
            cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env=cli_env(), start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"demo did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    return proc, url


class _Models(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "x"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@contextmanager
def models_stub():
    """A loopback HTTP server that lists one model, 'm'; yields its base URL and its server object
    (shut it down early to play a model server that went away)."""
    stub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{stub.server_address[1]}", stub
    finally:
        stub.shutdown()
        stub.server_close()
