"""Alarms for a run whose training signal and held-out accuracy part ways.

Two failure modes GRPO users meet, and that a reward curve alone hides:

- `reward_up_val_down`: the training accuracy (the equation reward's mean) keeps rising while
  greedy validation accuracy falls: the policy is fitting its own samples, not the task. Fires when
  the last `confirm` validation passes all sit at least `val_drop` below the best one so far and the
  training accuracy over the last `window` steps is at least `train_rise` above its value over the
  `window` steps before that best pass, or over the run's first `window` steps when fewer than
  `window` steps precede it (the pass before training, step 0, has none) (8 points: per-step
  training accuracy is noisy). Validation
  on 500 tasks has a standard error of ~1.5 points at 10-20% accuracy and the best of a dozen passes
  sits ~2.5 points above the mean by luck alone, hence a 4-point drop held over three passes
  (tests/train/test_alarms.py: quiet on 200 noisy runs).
- `format_without_answers`: the format reward stays high while the equation reward stays near zero
  (format hacking: the model learned the tags, not the arithmetic). Fires when, over the last
  `format_window` steps, the mean format reward is at least `format_high` and the mean equation
  reward at most `equation_floor`.

Each alarm fires once (the divergence alarm again only after a new best validation pass). Used by
`train.callbacks.MetricsCallback`, which prints the warning, writes the event to `metrics.jsonl`
(`{"step", "alarm", "message"}`); the summary, the model card and `curves.png` read it from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import mean


@dataclass
class AlarmSettings:
    window: int = 20
    train_rise: float = 0.08
    val_drop: float = 0.04
    confirm: int = 3
    format_window: int = 20
    format_high: float = 0.9
    equation_floor: float = 0.02


@dataclass
class DivergenceMonitor:
    settings: AlarmSettings = field(default_factory=AlarmSettings)
    train: list[tuple[int, float | None, float | None]] = field(default_factory=list)  # (step, accuracy, format)
    val: list[tuple[int, float]] = field(default_factory=list)
    best: tuple[int, float] | None = None
    diverged_since_best: bool = False
    format_fired: bool = False

    def add_train(self, step: int, accuracy: float | None, fmt: float | None) -> list[dict]:
        self.train.append((step, accuracy, fmt))
        s = self.settings
        recent = self.train[-s.format_window:]
        if self.format_fired or len(recent) < s.format_window:
            return []
        fmts = [f for _, _, f in recent if f is not None]
        accs = [a for _, a, _ in recent if a is not None]
        if len(fmts) < s.format_window or len(accs) < s.format_window:
            return []
        if mean(fmts) >= s.format_high and mean(accs) <= s.equation_floor:
            self.format_fired = True
            return [_event(step, "format_without_answers",
                           f"format reward {mean(fmts):.2f} but equation reward {mean(accs):.3f} over the last "
                           f"{s.format_window} steps: the format is being earned without correct answers")]
        return []

    def _train_mean(self, upto_step: int) -> float | None:
        accs = [a for st, a, _ in self.train if st <= upto_step and a is not None][-self.settings.window:]
        return mean(accs) if len(accs) >= self.settings.window else None

    def _train_mean_at_best(self) -> float | None:
        """Training accuracy around the best validation pass: the window before it, or the run's first
        window when fewer steps precede it (always so for the pass before training, step 0, the best
        one when validation never improves: the commonest shape of a run that only fits its own prompts)."""
        at_best = self._train_mean(self.best[0])
        if at_best is None:
            first = [a for _, a, _ in self.train if a is not None][:self.settings.window]
            at_best = mean(first) if len(first) >= self.settings.window else None
        return at_best

    def add_val(self, step: int, acc: float) -> list[dict]:
        s = self.settings
        self.val.append((step, acc))
        if self.best is None or acc >= self.best[1]:
            self.best = (step, acc)
            self.diverged_since_best = False
            return []
        last = self.val[-s.confirm:]
        if self.diverged_since_best or len(last) < s.confirm or any(st <= self.best[0] for st, _ in last):
            return []
        if any(self.best[1] - a < s.val_drop for _, a in last):
            return []
        at_best, now = self._train_mean_at_best(), self._train_mean(step)
        if at_best is None or now is None or now - at_best < s.train_rise:
            return []
        self.diverged_since_best = True
        return [_event(step, "reward_up_val_down",
                       f"training accuracy rose {at_best:.1%} -> {now:.1%} since step {self.best[0]} while validation "
                       f"accuracy fell {self.best[1]:.1%} -> {acc:.1%}: the policy is fitting its own samples")]


def _event(step: int, alarm: str, message: str) -> dict:
    return {"step": step, "alarm": alarm, "message": message}


def alarms_in(rows: list[dict]) -> list[dict]:
    """The alarm events of a run's metrics.jsonl rows."""
    return [r for r in rows if "alarm" in r]
