"""Which step `ValidationCallback` marks as the best (train/callbacks.py), in milliseconds: a
scripted val score per step against transformers' own TrainerState/TrainerControl. The step it
marks is the checkpoint the Trainer keeps from rotation and the one final/ is made from; the
end-to-end version (real checkpoints, real weights) is tests/train/test_grpo_step.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from transformers import TrainerControl, TrainerState

from train.callbacks import ValidationCallback

MODEL = object()


def walk(scores: dict[int, float], max_steps: int, save_steps: int, every: int = 0, stop_at: int | None = None):
    """Drive the callback through steps 1..max_steps; `scores[step]` is the val score it measures."""
    cb = ValidationCallback([{"nums": [1, 2, 3], "target": 6}], tokenizer=None, every=every, metrics=None,
                            log=lambda *a: None)
    measured = []

    def measure(model, state):
        assert model is MODEL  # the model the Trainer hands over is the one scored
        measured.append(state.global_step)
        return scores[state.global_step]

    cb._measure = measure
    args = SimpleNamespace(save_strategy="steps", save_steps=save_steps)
    state, saves = TrainerState(max_steps=max_steps), []
    cb.on_train_begin(args, state, TrainerControl(), model=MODEL)
    for step in range(1, max_steps + 1):
        state.global_step = step
        control = TrainerControl(should_training_stop=step == stop_at)
        cb.on_step_end(args, state, control, model=MODEL)
        if control.should_save:
            saves.append(step)
        if step == stop_at:
            break
    # every score is in the Trainer's log history, at its step (what trainer_state.json keeps)
    assert [h for h in state.log_history if "val_accuracy" in h] == \
        [{"step": step, "val_accuracy": scores[step]} for step in measured]
    return state, measured, saves


@pytest.mark.parametrize("scores,best", [
    ({0: 0.0, 1: 0.25, 2: 0.75, 3: 0.5, 4: 0.25}, 2),
    ({0: 0.0, 1: 0.5, 2: 0.25, 3: 0.5, 4: 1.0}, 4),
    ({0: 0.0, 1: 0.5, 2: 0.75, 3: 0.75, 4: 0.25}, 2),   # a tie keeps the first
    ({0: 0.9, 1: 0.5, 2: 0.25, 3: 0.5, 4: 0.25}, 1),    # step 0 is no checkpoint: it cannot be the best
])
def test_the_best_saved_step_is_marked(scores, best):
    state, measured, saves = walk(scores, max_steps=4, save_steps=1)
    assert measured == [0, 1, 2, 3, 4]
    assert state.best_global_step == best and state.best_metric == scores[best]
    assert saves == ([4] if best == 4 else [])  # the end step is saved when it is the best (no save was due)


def test_a_step_that_is_not_saved_is_never_marked():
    # val every step, checkpoints every 2 steps: step 3 scores best but has no checkpoint to keep
    state, measured, _ = walk({0: 0.0, 1: 0.25, 2: 0.5, 3: 1.0, 4: 0.75, 5: 0.0, 6: 0.25},
                              max_steps=6, save_steps=2, every=1)
    assert measured == [0, 1, 2, 3, 4, 5, 6]
    assert state.best_global_step == 4 and state.best_metric == 0.75


def test_validation_runs_only_at_saves_and_every_n_and_the_end():
    state, measured, saves = walk({0: 0.0, 3: 0.5, 4: 0.25, 6: 0.75, 7: 1.0}, max_steps=7, save_steps=3, every=4)
    assert measured == [0, 3, 4, 6, 7]
    assert state.best_global_step == 7 and saves == [7]  # the end is scored and, being the best, saved


def test_an_early_stop_is_scored_and_saved_when_best():
    state, measured, saves = walk({0: 0.0, 2: 0.25, 3: 0.5}, max_steps=10, save_steps=2, stop_at=3)
    assert measured == [0, 2, 3] and state.best_global_step == 3 and saves == [3]


def test_without_val_rows_nothing_is_measured():
    cb = ValidationCallback([], tokenizer=None, every=1, metrics=None, log=lambda *a: None)
    cb._measure = lambda *a: pytest.fail("measured with no val rows")
    state = TrainerState(max_steps=2)
    cb.on_train_begin(SimpleNamespace(save_strategy="steps", save_steps=1), state, TrainerControl())
    state.global_step = 1
    cb.on_step_end(SimpleNamespace(save_strategy="steps", save_steps=1), state, TrainerControl())
    assert state.best_global_step is None
