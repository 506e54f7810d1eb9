"""TrainerCallbacks that let a user see GRPO learn and keep the run honest.

- `ProgressCallback`: one progress bar with reward, accuracy and seconds per step.
- `MetricsCallback`: `metrics.jsonl`, one line per log step, with TRL's names mapped to plain
  ones (reward per function, accuracy = mean equation reward, completion length, KL, step
  time, tokens/s) plus the validation accuracy when it is measured.
- `ValidationCallback`: greedy accuracy on the *validation* split every N steps; the best step
  becomes the Trainer's `best_global_step`, so checkpoint rotation keeps it and the run's
  final model is chosen by it (the test split is never looked at while training).
- `TimeLimitCallback`: stops (and saves) after a wall-clock budget.
- `guard_rewards`: wraps reward functions so a NaN stops training with the step named.

Wired up by `train.grpo.build_trainer`; nothing here is called directly.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import contextmanager
from pathlib import Path

from transformers import TrainerCallback

# TRL's metric name -> the name in metrics.jsonl
METRIC_MAP = {
    "reward": "reward",
    "reward_std": "reward_std",
    "rewards/equation_reward/mean": "accuracy",
    "completions/mean_length": "completion_length",
    "completions/clipped_ratio": "clipped_ratio",
    "kl": "kl",
    "entropy": "entropy",
    "entropy_coef": "entropy_coef",  # the entropy bonus's coefficient (opt-in: use_adaptive_entropy, entropy_coef)
    "frac_reward_zero_std": "frac_reward_zero_std",
    "loss": "loss",
    "learning_rate": "learning_rate",
    "grad_norm": "grad_norm",
    "num_tokens": "num_tokens",
    "dynamic_sampling/live_groups": "live_groups",
    "dynamic_sampling/rounds": "sampling_rounds",  # rounds generated
    "dynamic_sampling/rounds_needed": "sampling_rounds_needed",  # rounds one round a call would have generated
    "dynamic_sampling/calls": "generation_calls",
    "dynamic_sampling/generation_seconds": "generation_seconds",
}


class StepClock(TrainerCallback):
    """Seconds per optimizer step, shared by the other callbacks."""

    def __init__(self):
        self.t0 = None
        self.last = None
        self.step = 0  # the step being computed now (read by the NaN guard)

    def on_step_begin(self, args, state, control, **kw):
        self.t0 = time.perf_counter()
        self.step = state.global_step + 1

    def on_step_end(self, args, state, control, **kw):
        if self.t0 is not None:
            self.last = time.perf_counter() - self.t0


class MetricsCallback(TrainerCallback):
    def __init__(self, path: Path, clock: StepClock, log=print):
        from .alarms import DivergenceMonitor

        self.path = Path(path)
        self.clock = clock
        self.log = log
        self.prev_tokens = None
        self.prev_time = None
        self.val: dict = {}
        self.monitor = DivergenceMonitor()  # train.alarms: training signal and held-out accuracy parting ways

    def _alarm(self, events: list[dict]) -> None:
        for e in events:
            self.log(f"WARNING (alarm {e['alarm']} at step {e['step']}): {e['message']}")
            with self.path.open("a") as f:
                f.write(json.dumps(e) + "\n")

    def on_log(self, args, state, control, logs=None, **kw):
        if not state.is_world_process_zero or not logs or "train_runtime" in logs:
            return
        now = time.perf_counter()
        row = {"step": state.global_step, "time": round(time.time(), 3)}
        for k, v in logs.items():
            if k.startswith("rewards/") and k.endswith("/mean"):
                row["reward_" + k.split("/")[1].removesuffix("_reward")] = v
            if k in METRIC_MAP:
                row[METRIC_MAP[k]] = v
        if self.clock.last is not None:
            row["step_time"] = round(self.clock.last, 4)
        tokens = logs.get("num_tokens")
        if tokens is not None and self.prev_tokens is not None and now > self.prev_time:
            row["tokens_per_s"] = round((tokens - self.prev_tokens) / (now - self.prev_time), 1)
        if tokens is not None:
            self.prev_tokens, self.prev_time = tokens, now
        row.update(self.val.pop(state.global_step, {}))
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if "accuracy" in row or "reward_format" in row:
            self._alarm(self.monitor.add_train(row["step"], row.get("accuracy"), row.get("reward_format")))

    def add_val(self, step: int, acc: float):
        with self.path.open("a") as f:
            f.write(json.dumps({"step": step, "val_accuracy": acc}) + "\n")
        self._alarm(self.monitor.add_val(step, acc))


class ProgressCallback(TrainerCallback):
    def __init__(self, clock: StepClock, desc: str = "GRPO"):
        self.clock = clock
        self.desc = desc
        self.bar = None
        self.post: dict = {}

    def on_train_begin(self, args, state, control, **kw):
        if state.is_world_process_zero:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.desc, dynamic_ncols=True)

    def on_step_end(self, args, state, control, **kw):
        if self.bar is not None:
            if self.clock.last is not None:
                self.post["s/step"] = f"{self.clock.last:.2f}"
            self.bar.set_postfix(self.post, refresh=False)
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kw):
        if self.bar is None or not logs:
            return
        if "reward" in logs:
            self.post["reward"] = f"{logs['reward']:.3f}"
        if "rewards/equation_reward/mean" in logs:
            self.post["acc"] = f"{logs['rewards/equation_reward/mean']:.3f}"
        if "val_accuracy" in logs:
            self.post["val"] = f"{logs['val_accuracy']:.3f}"
        self.bar.set_postfix(self.post)

    def on_train_end(self, args, state, control, **kw):
        self.close()

    def close(self):
        # Also called when training stops on an exception (on_train_end is then never called).
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@contextmanager
def as_saved(model):
    """`model` with its class's forward, as `from_pretrained` loads it from a checkpoint.

    Under `bf16: true` on fp32 weights, accelerate's mixed precision sets an instance `forward` that runs
    under autocast (TRL's `unwrap_model_for_generation` keeps it), and TRL's fused LM head sets one on
    top. A val pass must score what the checkpoint scores from disk, as the weight average and the test
    split are scored (in the weights' dtype); the loss gets both back when this returns.
    """
    wrapped = vars(model).pop("forward", None)
    try:
        yield model
    finally:
        if wrapped is not None:
            model.forward = wrapped


class ValidationCallback(TrainerCallback):
    """Greedy val accuracy at step 0, every `every` steps and at each save; the best step is kept.

    Every rank takes part: each scores its own share of the val rows (rows[rank::world]) and the
    counts are summed. Under ZeRO-3 a forward pass gathers weights from all ranks, so one rank
    generating alone would wait forever; TRL's `unwrap_model_for_generation` (the context its own
    generation uses) gathers the full weights on every rank once, then each rank generates freely.
    On 8 GPUs this also makes validation 8x faster instead of leaving 7 GPUs idle.
    """

    def __init__(self, rows: list[dict], tokenizer, every: int, metrics: MetricsCallback, log,
                 max_new_tokens: int = 64, batch_size: int = 125):
        self.rows = rows
        self.tokenizer = tokenizer
        self.every = every
        self.metrics = metrics
        self.log = log
        self.kw = {"max_new_tokens": max_new_tokens, "batch_size": batch_size}
        self.history: list[tuple[int, float]] = []
        self.seconds = 0.0  # spent in val passes, for the run's phase table
        self.trainer = None  # set by train.grpo.build_trainer: the accelerator and wrapped model

    def accuracy(self, model) -> float:
        """Greedy accuracy of `model` on all the val rows, in this process alone (no collectives)."""
        correct, total = self._counts(model, self.rows)
        return correct / total if total else 0.0

    def _counts(self, model, rows: list[dict], real: int | None = None) -> tuple[int, int]:
        """(correct, scored) over the first `real` of `rows` (the rest only pad the shard)."""
        from .greedy_eval import greedy_accuracy

        real = len(rows) if real is None else real
        if not rows:
            return 0, 0
        with as_saved(model):
            samples = greedy_accuracy(model, self.tokenizer, rows, return_samples=True, **self.kw)["samples"]
        return sum(x["ok"] for x in samples[:real]), real

    def _measure(self, model, state) -> float:
        from . import distributed as dist

        t = time.perf_counter()
        world = dist.world_size()
        share = self.rows[dist.rank()::world]
        # Equal shards: under ZeRO-3 every forward pass is a collective (generate syncs ranks token by
        # token, and DeepSpeed's forward hook broadcasts), so each rank must run the same batches.
        # Short shards are padded with a repeat of the first row, which is not counted.
        real = len(share)
        share = share + self.rows[:1] * (-(-len(self.rows) // world) - real)
        if self.trainer is not None:
            from trl.models.utils import unwrap_model_for_generation

            with unwrap_model_for_generation(self.trainer.model_wrapped, self.trainer.accelerator) as unwrapped:
                correct, total = self._counts(unwrapped, share, real)
        else:
            correct, total = self._counts(model, share, real)
        correct, total = dist.sum_over_ranks([correct, total])
        acc = correct / total if total else 0.0
        self.history.append((state.global_step, acc))
        if state.is_world_process_zero:
            self.metrics.add_val(state.global_step, acc)
        self.seconds += time.perf_counter() - t
        self.log(f"val accuracy at step {state.global_step}: {acc:.1%} ({int(total)} tasks over "
                 f"{world} process(es), {time.perf_counter() - t:.0f}s)")
        return acc

    def on_train_begin(self, args, state, control, model=None, **kw):
        if state.global_step == 0 and self.rows:
            state.log_history.append({"step": 0, "val_accuracy": self._measure(model, state)})

    def on_step_end(self, args, state, control, model=None, **kw):
        if not self.rows:
            return
        due_save = args.save_strategy == "steps" and args.save_steps and state.global_step % int(args.save_steps) == 0
        due_val = self.every and state.global_step % self.every == 0
        due_end = state.global_step >= state.max_steps or control.should_training_stop
        if not (due_save or due_val or due_end):
            return
        # Every rank computes the same summed accuracy, so all agree on best_global_step (the
        # Trainer's checkpoint save enters a barrier when it is set: a rank that skipped it would hang).
        acc = self._measure(model, state)
        state.log_history.append({"step": state.global_step, "val_accuracy": acc})
        if state.best_metric is None or acc > state.best_metric:
            if due_save or due_end:
                # best_global_step protects the checkpoint from rotation (transformers' own mechanism)
                state.best_metric = acc
                state.best_global_step = state.global_step
                if due_end:
                    control.should_save = True


class TimeLimitCallback(TrainerCallback):
    def __init__(self, minutes: float, log):
        self.limit = minutes * 60
        self.log = log
        self.t0 = None
        self.fired: str | None = None  # why the phase stopped early, for train.phases' "shortened" line

    def on_train_begin(self, args, state, control, **kw):
        self.t0 = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        # Rank 0's clock decides for all ranks: ranks that stopped at different steps would hang.
        from .distributed import broadcast_from_rank0

        if self.limit and broadcast_from_rank0(time.perf_counter() - self.t0 > self.limit):
            self.log(f"time budget of {self.limit / 60:.1f} min reached at step {state.global_step}/{state.max_steps}: "
                     "stopping")
            control.should_training_stop = True
            control.should_save = args.save_strategy != "no"
            self.fired = f"its {self.limit / 60:g}-min wall-clock cap"


class RewardNaNError(RuntimeError):
    pass


def guard_rewards(funcs, clock: StepClock):
    """Wrap reward functions so NaN/inf stops training naming the function and the step.
    The wrapper keeps `__name__`: TRL logs each reward under it."""
    import functools

    def wrap(fn):
        @functools.wraps(fn)
        def guarded(*args, **kwargs):
            out = fn(*args, **kwargs)
            for v in out:
                if v is not None and (not isinstance(v, (int, float)) or math.isnan(v) or math.isinf(v)):
                    raise RewardNaNError(f"reward '{fn.__name__}' returned {v!r} at step {clock.step}")
            return out

        return guarded

    return [wrap(f) for f in funcs]
