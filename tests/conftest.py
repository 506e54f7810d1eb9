"""Shared fixtures: the tiny model the project builds and generated Countdown data.

Nothing here touches a hub: the model is built locally by `train.tiny_model` (random weights:
enough to exercise every real component; tests that need a *trained* model train one), and
the data comes from the synthetic generator.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# No test may reach for a hub: fail fast instead of retrying against an unreachable host.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_MODE", "disabled")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A freshly built tiny Qwen2 model + tokenizer + chat template (random weights)."""
    from train.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def countdown_data_dir(tmp_path_factory) -> Path:
    """Synthetic splits written by the same code as `cli.py data --source synthetic` (small train)."""
    from tasks.countdown.data import write_dataset

    out = tmp_path_factory.mktemp("countdown-data")
    write_dataset(out, source="synthetic", train_size=2000, test_size=500, val_size=200, seed=42)
    return out
