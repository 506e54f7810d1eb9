"""Where a run's time goes, and whether any budget cut a phase short.

`train.pipeline.run` times each phase (data, base model, cold start, curriculum, GRPO with its
validation passes, checkpoint choice, final scoring); the end of the run prints the table and
`summary.json` keeps it under "phases". A phase that planned N steps and stopped at fewer (a
wall-clock cap, which the embedded recipe no longer sets) is named in one line, "shortened", that
the end-of-run table, `summary.json` and the model card all show: a run cut short is never
reported as the recipe's.
"""

from __future__ import annotations

import time
from contextlib import contextmanager


class PhaseClock:
    def __init__(self):
        self.phases: dict[str, dict] = {}

    @contextmanager
    def phase(self, name: str):
        """Times the block; the block may add "steps", "planned_steps" and other figures to the dict it gets."""
        rec: dict = {}
        t = time.perf_counter()
        try:
            yield rec
        finally:
            self.phases[name] = {"seconds": round(time.perf_counter() - t, 1)} | rec

    def table(self) -> str:
        return phase_table(self.phases)


def shortened_lines(phases: dict[str, dict]) -> list[str]:
    """One line per phase that stopped before its planned steps."""
    out = []
    for name, rec in phases.items():
        steps, planned = rec.get("steps"), rec.get("planned_steps")
        if isinstance(steps, int) and isinstance(planned, int) and 0 < planned and steps < planned:
            why = f" ({rec['stopped_by']})" if rec.get("stopped_by") else ""
            out.append(f"{name} stopped at step {steps} of {planned}{why}")
    return out


def shortened_note(phases: dict[str, dict]) -> str | None:
    """The one line a shortened run carries in its table, summary and model card; None for a full run."""
    lines = shortened_lines(phases)
    if not lines:
        return None
    return "SHORTENED RUN, not the recipe's result: " + "; ".join(lines) + "."


def phase_table(phases: dict[str, dict]) -> str:
    total = sum(r["seconds"] for r in phases.values())
    lines = ["| phase | wall time | steps |", "|---|---:|---|"]
    for name, r in phases.items():
        steps = ""
        if "steps" in r:
            steps = f"{r['steps']}" + (f" of {r['planned_steps']}" if r.get("planned_steps") else "")
            if r.get("seconds_per_step"):
                steps += f" ({r['seconds_per_step']:.2f} s/step)"
        if r.get("detail"):
            steps = (steps + "; " if steps else "") + r["detail"]
        lines.append(f"| {name} | {_mmss(r['seconds'])} | {steps} |")
    lines.append(f"| total | {_mmss(total)} | |")
    return "\n".join(lines)


def _mmss(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"
