"""A Ctrl-C that lands in a `__del__` is swallowed by Python ("Exception ignored in ..."); the latch
raises it again at the loop's next safe point (common/interrupts.py)."""

from __future__ import annotations

import os
import signal

import pytest

from common.interrupts import InterruptLatch


class InterruptedWhileCollected:
    """Sends this process SIGINT from its own `__del__`, so the KeyboardInterrupt is raised in there."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # bytecodes for the pending signal to be handled here, inside __del__
            pass


def collect_one():
    x = InterruptedWhileCollected()
    del x


@pytest.fixture
def python_sigint():
    old = signal.signal(signal.SIGINT, signal.default_int_handler)  # as a foreground `python` has it
    yield
    signal.signal(signal.SIGINT, old)


def test_python_swallows_a_ctrl_c_that_lands_in_a_del(python_sigint):
    collect_one()  # no KeyboardInterrupt here: this is the loss the latch exists for


def test_the_latch_raises_the_swallowed_ctrl_c_at_its_check(python_sigint):
    with InterruptLatch() as latch:
        collect_one()
        assert latch.hit
        with pytest.raises(KeyboardInterrupt):
            latch.check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_the_latch_leaves_an_ignored_sigint_alone():
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job
    try:
        with InterruptLatch() as latch:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            latch.check()
    finally:
        signal.signal(signal.SIGINT, old)
