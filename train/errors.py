"""The training run's one-line error (a run that cannot start or had to stop)."""

from __future__ import annotations

from common.errors import UserError


class TrainError(UserError):
    """A run that cannot start or had to stop; printed as one line."""
