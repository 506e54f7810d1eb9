"""`cli.py train` takes every core the process may use, whatever the load average at its start."""

from __future__ import annotations

import os

import torch

from train.pipeline import set_threads


def test_train_takes_every_core_under_a_high_load_average(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (2.5, 2.4, 2.0))  # a fresh clone, right after its install
    before = torch.get_num_threads()
    try:
        set_threads(0, use_cpu=True)
        assert torch.get_num_threads() == 2
        set_threads(1, use_cpu=True)  # the recipe's explicit count wins
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_bf16_on_a_cpu_that_emulates_it_is_named(monkeypatch):
    """The embedded recipe computes in bf16; a CPU without native bf16 runs it slower than fp32."""
    import common.hardware as hw
    from train.pipeline import note_cpu_bf16

    monkeypatch.setattr(hw, "cpu_has_native_bf16", lambda: False)
    assert "without native bf16" in note_cpu_bf16(True, True)
    assert note_cpu_bf16(False, True) is None and note_cpu_bf16(True, False) is None  # fp32, or a GPU run
    monkeypatch.setattr(hw, "cpu_has_native_bf16", lambda: True)
    assert note_cpu_bf16(True, True) is None
    monkeypatch.setattr(hw, "cpu_has_native_bf16", lambda: None)  # unreadable: no guess
    assert note_cpu_bf16(True, True) is None
