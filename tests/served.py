"""One real vLLM server for the whole test session (the serving tests and the api backend's): `cli.py
serve` itself, on the tiny model taught
8 train tasks (`taught_model_dir`: it writes the trained format, `</think>` and all, through a
tokenizer that writes tags as several tokens like Qwen2.5's), on a free loopback port, with an
API key. Started once per test session (a start costs ~70 s of
CPU with a warm compile cache), stopped with SIGINT at the end, and that stop is checked:
the command must exit 0 and leave none of its processes (API server, engine core, workers).

The compile cache lives in ~/.cache/mini-r1/vllm (VLLM_CACHE_ROOT) so later runs reuse it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from common.vllm_env import vllm_env
from tests.conftest import ROOT

API_KEY = "test-key-123"
STARTUP_TIMEOUT = 480  # cold compile on a loaded 2-core machine; warm is ~70 s


@dataclass
class Served:
    base_url: str
    api_key: str
    model: str
    model_dir: Path
    proc: subprocess.Popen
    stdout_path: Path
    stderr_path: Path

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def client(self, **kw):
        import openai

        return openai.OpenAI(base_url=self.base_url + "/v1", api_key=self.api_key, max_retries=0,
                             timeout=kw.pop("timeout", 120), **kw)


def cli_env() -> dict[str, str]:
    env = vllm_env()
    env.pop("OMP_NUM_THREADS", None)  # set for the test processes (tests/conftest.py), not for the server
    env["PYTHONUNBUFFERED"] = "1"
    return env


def descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cmdline(pid: int) -> list[str]:
    import psutil

    try:
        return psutil.Process(pid).cmdline()
    except psutil.Error:
        return []


def alive(pids) -> list[int]:
    import psutil

    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.fixture(scope="session")
def served(taught_model_dir, tmp_path_factory):
    from serve.served_name import served_name
    from serve.server import free_port

    port = free_port()
    logs = tmp_path_factory.mktemp("served")
    out, err = logs / "stdout.txt", logs / "stderr.txt"
    cmd = [sys.executable, str(ROOT / "cli.py"), "serve", "--model", str(taught_model_dir), "--port", str(port),
           "--api-key", API_KEY, "--log-file", str(logs / "vllm.log"), "--health-timeout", str(STARTUP_TIMEOUT),
           # Passed through to vLLM (and checked below): eager mode skips the ~50 s CPU compile,
           # which the plumbing under test does not need.
           "--", "--enforce-eager"]
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fo, stderr=fe, env=cli_env(), start_new_session=True)
    deadline = time.monotonic() + STARTUP_TIMEOUT + 30
    while "ready: " not in out.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"cli.py serve did not come up (rc={proc.poll()}):\n{err.read_text()[-3000:]}")
        time.sleep(1)
    children = descendants(proc.pid)
    if not any("--enforce-eager" in " ".join(cmdline(pid)) for pid in children):
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("args after -- must reach vLLM: no child process runs with --enforce-eager")
    served = Served(f"http://127.0.0.1:{port}", API_KEY, served_name(taught_model_dir), taught_model_dir, proc, out, err)
    yield served

    # Ctrl-C: the command must stop vLLM's whole process tree and exit cleanly.
    children = sorted(set(children) | set(descendants(proc.pid)))
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        for pid in alive(children):
            os.kill(pid, signal.SIGKILL)
        pytest.fail("cli.py serve did not exit within 60 s of SIGINT")
    deadline = time.monotonic() + 10
    while alive(children) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = alive(children)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert rc == 0, f"serve exited {rc} after SIGINT:\n{err.read_text()[-2000:]}"
    assert children, "the serve command started no child processes?"
    assert not left, f"processes left running after Ctrl-C: {left}"
    assert re.search(r"server stopped", err.read_text())
