"""The CPU thread choice of a run: every core the process may use, never the load average."""

from __future__ import annotations

import os

import pytest

from common.hardware import cpu_threads


@pytest.fixture
def no_thread_env(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)


def test_a_high_load_average_does_not_change_the_choice(monkeypatch, no_thread_env):
    """`make train` right after its own install saw a load of ~2.5 on 2 cores and took 1 thread."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(os, "getloadavg", lambda: (2.5, 2.5, 2.5))
    assert cpu_threads(0) == 2
    monkeypatch.setattr(os, "getloadavg", lambda: (100.0, 100.0, 100.0))
    assert cpu_threads(0) == 2


def test_affinity_not_the_machine_count(monkeypatch, no_thread_env):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert cpu_threads(0) == 1


def test_cores_shared_among_the_node_processes(monkeypatch, no_thread_env):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert cpu_threads(0) == 4
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "32")
    assert cpu_threads(0) == 1


def test_explicit_choices_win(monkeypatch, no_thread_env):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert cpu_threads(0) == 3
    assert cpu_threads(5) == 5  # the recipe's torch_num_threads over the environment
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert cpu_threads(0) == 2


def test_the_test_suite_sets_its_own_thread_count():
    """tests/conftest.py: one thread per pytest-xdist worker, inherited by the runs it starts."""
    assert os.environ.get("OMP_NUM_THREADS") == "1"


def test_native_bf16_read_from_the_cpu_flags():
    from common.hardware import cpu_has_native_bf16

    assert cpu_has_native_bf16("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n") is True
    assert cpu_has_native_bf16("flags\t\t: fpu sse avx2 amx_tile amx_bf16\n") is True
    assert cpu_has_native_bf16("Features\t: fp asimd bf16 i8mm\n") is True  # Arm
    assert cpu_has_native_bf16("flags\t\t: fpu sse avx2 avx512f avx512_vnni\n") is False
    assert cpu_has_native_bf16("processor\t: 0\n") is None
    assert cpu_has_native_bf16() in (True, False, None)  # this machine's own file reads
