"""TRL reward functions: signature, plain and conversational completions, prefill, hostile text.

    .venv/bin/python -m pytest -q tests/tasks/countdown/test_rewards.py
"""

from __future__ import annotations

import inspect
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.countdown import ASSISTANT_PREFILL, REWARD_FUNCS, build_messages, equation_reward, format_reward, verify
from tasks.countdown.rewards import closeness_reward, steps_reward
from tests.conftest import short_id

NUMS, TARGET = [19, 36, 55, 7], 65
GOOD = "55+36=91, 91-7=84, 84-19=65</think>\n<answer>55+36-7-19</answer>"


def trl_call(func, completions, conversational=False, **columns):
    """Call a reward function the way TRL 1.16's GRPOTrainer does (grpo_trainer.py, _calculate_rewards):
    keyword arguments only, dataset columns repeated per completion, plus trainer extras."""
    n = len(completions)
    if conversational:
        prompts = [build_messages(NUMS, TARGET)] * n
        completions = [[{"role": "assistant", "content": c}] for c in completions]
    else:
        prompts = ["prompt"] * n
    columns = {"nums": [NUMS] * n, "target": [TARGET] * n, **columns}
    return func(prompts=prompts, completions=completions, completion_ids=[[1, 2]] * n,
                trainer_state=object(), log_extra=lambda *a, **k: None, log_metric=lambda *a, **k: None,
                id=list(range(n)), **columns)


FORMAT_CASES = [
    (GOOD, 1.0),
    ("x</think><answer>1</answer>", 1.0),
    ("x</think>\n\n<answer> 55+36-7-19 </answer>\n", 1.0),
    ("<think>x</think><answer>1</answer>", 1.0),  # the completion repeats the prefilled tag
    (ASSISTANT_PREFILL + "x</think><answer>1</answer>", 1.0),  # whole assistant turn handed back
    ("</think><answer>1</answer>", 0.0),  # empty think
    ("   \n</think><answer>1</answer>", 0.0),  # whitespace-only think
    ("\u200b\u200c</think><answer>1</answer>", 0.0),  # zero-width-only think (survives str.strip)
    ("x</think><answer>\u200b\ufeff\u2060</answer>", 0.0),  # zero-width-only answer
    ("x</think><answer></answer>", 0.0),  # empty answer
    ("x</think><answer>1</answer></answer>", 0.0),  # duplicated closing tag (a known degenerate output)
    ("x</think><answer>1</answer><answer>2</answer>", 0.0),
    ("x</think></think><answer>1</answer>", 0.0),
    ("<think>x</think><think>y</think><answer>1</answer>", 0.0),
    ("x<think>y</think><answer>1</answer>", 0.0),  # a second <think> after the prefill
    ("x</think>text between<answer>1</answer>", 0.0),
    ("x</think><answer>1</answer> trailing", 0.0),
    ("x<answer>1</answer>", 0.0),  # never closes think
    ("x</think>", 0.0),
    ("", 0.0),
    ("x</think><answer>1</answer>" + " " * (1 << 17), 1.0),  # trailing whitespace is not content
    ("x" * (1 << 20) + "</think><answer>1</answer>", 0.0),  # 1 MB: over the format cap, earns nothing
]


@pytest.mark.parametrize("text,expected", FORMAT_CASES, ids=short_id)
@pytest.mark.parametrize("conversational", [False, True])
def test_format_reward(text, expected, conversational):
    assert trl_call(format_reward, [text], conversational) == [expected]


EQUATION_CASES = [
    (GOOD, 1.0),
    ("</think><answer>55+36-7-19</answer>", 1.0),  # correctness does not depend on the format
    ("x</think><answer>55+36-7</answer>", 0.0),
    ("x</think><answer>55+36-7-19</answer> then <answer>1</answer>", 0.0),  # last block wins
    ("x</think><answer>1</answer> then <answer>55+36-7-19 = 65</answer>", 1.0),
    ("x</think><answer>__import__('os').system('id')</answer>", 0.0),
    ("x</think><answer>(55+36-7-19)**1</answer>", 0.0),
    ("no answer", 0.0),
    ("", 0.0),
]


@pytest.mark.parametrize("text,expected", EQUATION_CASES, ids=short_id)
@pytest.mark.parametrize("conversational", [False, True])
def test_equation_reward(text, expected, conversational):
    assert trl_call(equation_reward, [text], conversational) == [expected]
    assert expected == float(verify(text, NUMS, TARGET).ok)  # one scorer


def test_batch_one_float_per_completion_with_per_row_tasks():
    completions = ["x</think><answer>1+2</answer>", "x</think><answer>2*3</answer>", "nothing"]
    rewards = equation_reward(completions, nums=[[1, 2], [2, 3], [1]], target=[3, 7, 1], prompts=["p"] * 3)
    assert rewards == [1.0, 0.0, 0.0]
    assert format_reward(completions) == [1.0, 1.0, 0.0]
    assert format_reward([]) == [] and equation_reward([], nums=[], target=[]) == []


@pytest.mark.parametrize(
    "completion",
    [None, 5, [], [{}], [{"role": "assistant"}], [{"role": "assistant", "content": None}], {"content": "x"},
     [{"role": "assistant", "content": [{"type": "text", "text": GOOD}]}]],
    ids=lambda x: short_id(x, 200),
)
def test_odd_completion_objects_score_finite(completion):
    for func in REWARD_FUNCS.values():
        out = func([completion], nums=[NUMS], target=[TARGET])
        assert len(out) == 1 and isinstance(out[0], float) and math.isfinite(out[0])


def test_multimodal_content_parts_are_read():
    parts = [{"role": "assistant", "content": [{"type": "text", "text": GOOD}]}]
    assert equation_reward([parts], nums=[NUMS], target=[TARGET]) == [1.0]
    assert format_reward([parts]) == [1.0]


def test_registry_keeps_names_and_trl_signature():
    assert {name: f.__name__ for name, f in REWARD_FUNCS.items()} == {"format": "format_reward",
                                                                     "equation": "equation_reward",
                                                                     "steps": "steps_reward",
                                                                     "closeness": "closeness_reward"}
    for f in REWARD_FUNCS.values():
        params = inspect.signature(f).parameters
        assert "completions" in params
        assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def test_bad_task_columns_are_zero_not_errors():
    rewards = equation_reward([GOOD, GOOD, GOOD], nums=[None, "19,36", [19, 36, 55, 7]], target=[65, 65, None])
    assert rewards == [0.0, 0.0, 0.0]
    steps = "1+9=10</think><answer>1+9</answer>"
    assert steps_reward([steps] * 4, nums=[None, "1,9", "19", [1, "x"]]) == [0.0] * 4
    assert steps_reward([steps], nums=[[1, 9]]) == [1.0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=200) | st.sampled_from([GOOD, "</think>", "<answer>", "</answer>", "<think>"]),
                max_size=6).map("".join))
def test_always_finite_floats(text):
    for func in REWARD_FUNCS.values():
        for conversational in (False, True):
            out = trl_call(func, [text, GOOD], conversational)
            assert len(out) == 2 and all(isinstance(r, float) and r in (0.0, 1.0) for r in out)
            assert out[1] == 1.0


def test_completion_text_of_every_shape_trl_hands_over():
    from tasks.countdown.rewards import completion_text

    assert completion_text("a") == "a"
    assert completion_text([{"role": "assistant", "content": "a"}]) == "a"
    parts = [{"type": "text", "text": "a"}, {"type": "image"}, "junk", {"type": "text", "text": "b"}]
    assert completion_text([{"role": "assistant", "content": parts}]) == "ab"
    assert completion_text([]) == "" and completion_text(None) == "" and completion_text([{"content": 5}]) == ""


def test_equation_reward_refuses_columns_of_different_lengths():
    """TRL hands the reward one row per completion: a shorter nums/target column is a batching bug,
    never to be scored against the wrong task."""
    with pytest.raises(ValueError):
        equation_reward(["<answer>1+2</answer>"] * 2, nums=[[1, 2]], target=[3, 3])


def test_prefill_is_added_only_when_missing_after_leading_whitespace():
    from tasks.countdown.rewards import _MAX_FORMAT_CHARS, is_well_formatted, with_prefill

    assert with_prefill("\n<think>x") == "\n<think>x" and with_prefill("x") == "<think>x"
    body = "x</think>\n<answer>1+2</answer>"
    at_cap = "<think>" + "y" * (_MAX_FORMAT_CHARS - len("<think>") - len(body)) + body
    assert len(at_cap) == _MAX_FORMAT_CHARS and is_well_formatted(at_cap)
    assert not is_well_formatted(at_cap.replace("<think>", "<think>y"))


def test_closeness_pays_near_misses_with_the_right_numbers_only():
    nums, target = [[1, 7, 9]], [64]
    def score(answer):
        return closeness_reward([f"x</think><answer>{answer}</answer>"], nums=nums, target=target)[0]
    assert score("9*7+1") == 1.0                       # exact
    assert score("(9-1)*7") == 1 - 8 / 64               # 56: near
    assert score("9*7-1") > score("(9-1)*7") > score("9+7+1") > 0  # 62 > 56 > 17
    assert score("9*7*1*2") == 0.0                     # a number not on hand
    assert score("9*7") == 0.0                         # a number left out
    assert score("(9+7)*1*9") == 0.0                   # 9 used twice
    assert score("9-7-1-") == 0.0                      # not an equation
    assert score("9*(7+1)") == 1 - 8 / 64               # 72: as near from above
    assert score("7/(9-1)") == 1 - (64 - 7 / 8) / 64    # a fraction is a value too
    assert closeness_reward(["no answer"], nums=nums, target=target) == [0.0]
    assert closeness_reward(["x</think><answer>9*7*8</answer>"], nums=nums, target=target) == [0.0]
    # far past the target: nothing (not negative)
    assert closeness_reward(["x</think><answer>(9+1)*7</answer>"], nums=[[1, 7, 9]], target=[20]) == [0.0]
