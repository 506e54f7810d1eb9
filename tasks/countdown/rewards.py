"""TRL reward functions for Countdown. `format` and `equation` are thin adapters over `verify`: one
scorer. `steps` (opt-in, not in any recipe) pays for a think block whose arithmetic holds
(`think_steps.check_steps`): the answer's reward never looks there.

Signature as TRL expects: ``(completions, **dataset_columns) -> list[float]``, where a
completion is a string or, for conversational datasets, a list of messages whose last one is
the assistant's. The prompt's assistant turn ends with ``<think>``, so the completion starts
inside the think block; the format check puts that prefix back before matching.

    >>> format_reward(["reasoning</think>\\n<answer>1+2</answer>"])
    [1.0]
    >>> equation_reward(["x</think><answer>55+36-7-19</answer>"], nums=[[19, 36, 55, 7]], target=[65])
    [1.0]
"""

from __future__ import annotations

import re
import unicodedata

from .prompt import ASSISTANT_PREFILL, THINK_PREFILL
from .think_steps import check_steps, think_of
from .verifier import extract_answer, verify

# Exactly one think block with something in it, then exactly one answer block, nothing after.
_FORMAT = re.compile(r"<think>(?P<think>.*?)</think>\s*<answer>(?P<answer>.*?)</answer>\s*", re.DOTALL)
_TAGS = ("<think>", "</think>", "<answer>", "</answer>")
_MAX_FORMAT_CHARS = 1 << 16  # no completion of a sane run is longer; longer earns nothing


def completion_text(completion) -> str:
    """The assistant text of a TRL completion (plain string or list of chat messages)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion:
        last = completion[-1]
        if isinstance(last, dict):
            content = last.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):  # multimodal-style content parts
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def with_prefill(text: str) -> str:
    stripped = text.lstrip()
    # Some backends hand back the whole assistant turn, prefill included: keep its "<think>".
    if stripped.startswith(ASSISTANT_PREFILL):
        return stripped[len(ASSISTANT_PREFILL) - len(THINK_PREFILL) :]
    return text if stripped.startswith(THINK_PREFILL) else THINK_PREFILL + text


def is_well_formatted(text: str) -> bool:
    """One non-empty think block, then one non-empty answer block, and nothing else after."""
    full = with_prefill(text).strip()
    if len(full) > _MAX_FORMAT_CHARS:
        return False
    if any(full.count(tag) != 1 for tag in _TAGS):
        return False
    m = _FORMAT.fullmatch(full)
    return bool(m and _visible(m.group("think")) and _visible(m.group("answer")))


def _visible(text: str) -> bool:
    """Holds a character that shows: not whitespace, and not a zero-width/format character
    (U+200B, U+FEFF, U+2060 and the rest of Unicode's Cf category, which survive str.strip)."""
    return any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text)


def format_reward(completions, **kwargs) -> list[float]:
    """1.0 when the completion is exactly one think block followed by one answer block."""
    return [1.0 if is_well_formatted(completion_text(c)) else 0.0 for c in completions]


def equation_reward(completions, nums, target, **kwargs) -> list[float]:
    """1.0 when the last answer block is an equation that `verify` accepts."""
    return [
        1.0 if verify(completion_text(c), n, t).ok else 0.0
        for c, n, t in zip(completions, nums, target, strict=True)
    ]


def steps_reward(completions, nums, **kwargs) -> list[float]:
    """The share of the think block's `a op b = c` steps that are right; 0.0 when it writes none."""
    out = []
    for c, n in zip(completions, nums, strict=True):
        try:  # a malformed task row earns nothing, as in `verify`
            right, written = check_steps(think_of(completion_text(c)), n) if isinstance(n, (list, tuple)) else (0, 0)
        except (TypeError, ValueError):
            right, written = 0, 0
        out.append(right / written if written else 0.0)
    return out


def closeness_reward(completions, nums, target, **kwargs) -> list[float]:
    """How near the answer's value lands to the target when it uses exactly the task's numbers:
    1.0 when `verify` accepts it, 1 - |value - target| / target for a wrong value (0.0 past twice the
    target or below zero), 0.0 for anything else. Partial credit gives a group reward spread where no
    sample hits the target (most 4-number tasks for a small model); `equation` still pays only the
    exact answer.

        >>> closeness_reward(["x</think><answer>(9-1)*7</answer>"], nums=[[1, 7, 9]], target=[64])
        [0.875]
    """
    out = []
    for c, n, t in zip(completions, nums, target, strict=True):
        v = verify(completion_text(c), n, t)
        if v.ok:
            out.append(1.0)
        elif v.reason == "wrong_value" and isinstance(t, int) and t > 0:
            out.append(max(0.0, 1.0 - float(abs(v.value - t)) / t))
        else:
            out.append(0.0)
    return out


# Registered by name (TRL logs each reward under the function's __name__).
REWARD_FUNCS = {"format": format_reward, "equation": equation_reward, "steps": steps_reward,
                "closeness": closeness_reward}

__all__ = ["format_reward", "equation_reward", "steps_reward", "closeness_reward", "REWARD_FUNCS", "completion_text",
           "extract_answer"]
