"""The reference prompt: chat messages with the assistant prefill, rendered by a real chat template.

    .venv/bin/python -m pytest -q tests/tasks/countdown/test_prompt.py
"""

from __future__ import annotations

import pytest

from tasks.countdown import ASSISTANT_PREFILL, SYSTEM_PROMPT, build_messages, render_prompt, user_message
from tasks.countdown.prompt import THINK_PREFILL


def test_messages_with_and_without_prefill():
    messages = build_messages([19, 36, 55, 7], 65)
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert messages[0]["content"] == SYSTEM_PROMPT
    assert messages[2]["content"] == ASSISTANT_PREFILL == "Let me solve this step by step.\n<think>"
    assert ASSISTANT_PREFILL.endswith(THINK_PREFILL)
    assert build_messages([19, 36, 55, 7], 65, prefill=False) == messages[:2]


def test_user_message_states_the_task():
    text = user_message([19, 36, 55, 7], 65)
    assert "Using the numbers [19, 36, 55, 7], create an equation that equals 65." in text
    assert "<think> </think>" in text and "<answer> (1 + 2) / 3 = 1 </answer>" in text
    # numpy-style and string inputs print the same.
    assert user_message(["19", 36.0, 55, 7], "65") == text


def test_messages_are_fresh_objects():
    a = build_messages([1, 2], 3)
    a[0]["content"] = "changed"
    assert build_messages([1, 2], 3)[0]["content"] == SYSTEM_PROMPT


@pytest.fixture(scope="module")
def tokenizer():
    from train.tiny_model import build_tokenizer

    return build_tokenizer()


def test_render_prompt_ends_inside_the_think_block(tokenizer):
    text = render_prompt(tokenizer, [19, 36, 55, 7], 65)
    assert text.endswith(ASSISTANT_PREFILL)  # continue_final_message: no end-of-turn after the prefill
    assert SYSTEM_PROMPT in text and user_message([19, 36, 55, 7], 65) in text
    assert text.count(ASSISTANT_PREFILL) == 1
