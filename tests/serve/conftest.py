"""Fixtures of the serving tests. The vLLM server itself (`served`) is session-wide: tests/served.py."""

from __future__ import annotations

import os

import pytest

CHROMIUM = "/usr/lib/chromium/chromium"


@pytest.fixture(scope="package")
def taught_task(countdown_data_dir):
    """One of the train tasks the served model memorised: greedy, it answers in the trained format."""
    from tasks.countdown.data import load_split
    from tests.conftest import TAUGHT_ROWS

    row = load_split(countdown_data_dir, "train")[TAUGHT_ROWS][1]
    return [int(n) for n in row["nums"]], int(row["target"])


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright launches Debian's Chromium (`playwright install` cannot download here)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} missing and could not be installed (scripts/browser_deps.sh needs root + apt)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True}
