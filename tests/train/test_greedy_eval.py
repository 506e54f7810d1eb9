"""Validation (train/greedy_eval.py: HF generate, no stop string) and the lm-eval task (stops at
`</answer>`) give the same verdict on the same generated tokens."""

from __future__ import annotations

import pytest

from tasks.countdown.lm_eval_hooks import STOP, score
from train.greedy_eval import score_generation

ROW = {"nums": [19, 36, 55, 7], "target": 65}

GENERATIONS = [
    "55+36=91 91-7=84 84-19=65</think>\n<answer>55+36-7-19</answer>",
    "55+36=91 91-7=84 84-19=65</think>\n<answer>55+36-7-19",  # the token budget ran out: lm-eval closes it
    "x</think><answer>55+36-7-19</answer><answer>55+36</answer>",  # lm-eval stops after the first block
    "x</think><answer>55+36</answer><answer>55+36-7-19</answer>",
    "x</think><answer>55+36-7-19</answer></answer></answer>",
    "x</think><answer>55+36-7-19</answer>\n\nnums: 1 2 3",  # runs on past the answer
    "x</think>no answer at all",
]


@pytest.mark.parametrize("generated", GENERATIONS, ids=lambda x: repr(x)[-30:])
def test_validation_scores_like_lm_eval(generated):
    # lm-eval's generate_until hands the task the text before the first stop string
    as_lm_eval = score(ROW, generated.split(STOP)[0])
    as_validation = score_generation(ROW, generated)
    assert (as_validation["ok"], as_validation["reason"], as_validation["well_formatted"]) == (
        as_lm_eval["ok"], as_lm_eval["reason"], as_lm_eval["well_formatted"])
