"""The reference prompt, in one place: training, evaluation, serving and the demo all build
their prompts here, so a checkpoint is always asked the question it was trained on.

The assistant turn is prefilled with ``Let me solve this step by step.\\n<think>`` (as in the
reference), so a completion starts inside the think block.
"""

from __future__ import annotations

SYSTEM_PROMPT = (
    "You are a helpful assistant. You first thinks about the reasoning process in the mind "
    "and then provides the user with the answer."
)
USER_TEMPLATE = (
    "Using the numbers {numbers}, create an equation that equals {target}. You can use basic "
    "arithmetic operations (+, -, *, /) and each number can only be used once. Show your work "
    "in <think> </think> tags. And return the final equation and answer in <answer> </answer> "
    "tags, for example <answer> (1 + 2) / 3 = 1 </answer>."
)
ASSISTANT_PREFILL = "Let me solve this step by step.\n<think>"
THINK_PREFILL = "<think>"  # the part of the prefill the format reward must see


def format_numbers(numbers) -> str:
    return "[" + ", ".join(str(int(n)) for n in numbers) + "]"


def user_message(numbers, target) -> str:
    return USER_TEMPLATE.format(numbers=format_numbers(numbers), target=int(target))


def build_messages(numbers, target, prefill: bool = True) -> list[dict]:
    """System + user (+ assistant prefill) chat messages for one task."""
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_message(numbers, target)},
    ]
    if prefill:
        messages.append({"role": "assistant", "content": ASSISTANT_PREFILL})
    return messages


def render_prompt(tokenizer, numbers, target) -> str:
    """The prompt as text, ending inside the prefilled assistant turn."""
    return tokenizer.apply_chat_template(
        build_messages(numbers, target), tokenize=False, continue_final_message=True
    )
