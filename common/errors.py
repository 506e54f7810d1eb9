"""The project's one error for people: bad input, or a run that cannot start or had to stop.

Library code raises a subclass with a message that fits on one line and says what to do; only the
command-line layer (`cli.py`) turns it into click's `Error: ...` and exit status 1. Library code
never imports click for that.
"""

from __future__ import annotations


class UserError(Exception):
    """A message for the person at the command line: one line, no traceback."""


class RunDirError(UserError):
    """A run or model directory that is missing, unreadable or holds no loadable model."""
