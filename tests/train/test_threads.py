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
