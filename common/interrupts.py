"""A Ctrl-C that is never lost between the units of a long loop.

Python turns SIGINT into KeyboardInterrupt wherever the main thread happens to be. When that is a
`__del__` (a tokenizer, a progress bar or a file being collected), Python prints "Exception ignored
in ..." and goes on, and a broad `except Exception` in a library may also eat it: the user pressed
Ctrl-C and the command kept running to the end (seen once in CI: an evaluation sweep scored all four
of its points after the interrupt). `InterruptLatch` remembers the signal as well as raising it, and
`check()` raises it again at the loop's next safe point.
"""

from __future__ import annotations

import signal


class InterruptLatch:
    """Within the block, SIGINT raises KeyboardInterrupt as Python's own handler does and is
    remembered; `check()` raises it if it was swallowed. Leaves SIGINT alone when it is ignored (a
    background job) or handled by someone else, or outside the main thread.

    >>> with InterruptLatch() as latch:
    ...     latch.check()  # no interrupt: nothing happens
    """

    def __init__(self):
        self.hit = False
        self._old = None

    def _handler(self, signum, frame):
        self.hit = True
        raise KeyboardInterrupt

    def __enter__(self) -> InterruptLatch:
        try:
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                self._old = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread: signal handlers cannot be set there
            self._old = None
        return self

    def check(self) -> None:
        if self.hit:
            raise KeyboardInterrupt

    def __exit__(self, *exc) -> bool:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False
