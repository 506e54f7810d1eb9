"""Asking a served checkpoint a Countdown puzzle through any OpenAI-compatible endpoint, and
judging the reply with the project's one verifier.

The request is the training prompt (`tasks.countdown.prompt.build_messages`, assistant turn
prefilled up to `<think>`), sent with `continue_final_message` so the model continues inside
the think block. `cli.py serve`'s reasoning parser (`mini_r1`, serve/reasoning_parser.py)
returns the text before `</think>` as `reasoning` and the rest as `content`; a server
without a parser returns one `content` string, which `split_reasoning` splits here by the
same rule (tasks.countdown.think_split), so the demo works against either.

    >>> judge("36-19=17 55-7=48 ", "<answer>(36-19)+(55-7)</answer>", [19, 36, 55, 7], 65).ok
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tasks.countdown.prompt import build_messages
from tasks.countdown.verifier import Verdict, verify

from tasks.countdown.think_split import THINK_CLOSE, join_reasoning, split_reasoning

# The prefill ends the prompt inside the assistant turn: continue it, add no new turn.
CONTINUE_PREFILL = {"continue_final_message": True, "add_generation_prompt": False}


def message_parts(message) -> tuple[str | None, str | None]:
    """(reasoning, content) of a chat message or delta, whichever field name the server uses:
    `reasoning` (vLLM 0.32) or `reasoning_content` (older vLLM, other servers)."""
    reasoning = getattr(message, "reasoning", None)
    if reasoning is None:
        reasoning = getattr(message, "reasoning_content", None)
    extra = getattr(message, "model_extra", None) or {}
    if reasoning is None:
        reasoning = extra.get("reasoning") or extra.get("reasoning_content")
    return reasoning, getattr(message, "content", None)


@dataclass
class Answer:
    reasoning: str
    content: str | None
    verdict: Verdict
    finish_reason: str | None = None

    @property
    def text(self) -> str:
        return join_reasoning(self.reasoning, self.content)


def reply_parts(reasoning: str | None, content: str | None) -> tuple[str | None, str | None]:
    """(reasoning, content) of a reply; a server without a reasoning parser sends it all as content,
    split here by the same rule."""
    if not reasoning and content is not None and THINK_CLOSE in content:
        return split_reasoning(content)
    return reasoning, content


def judge(reasoning: str | None, content: str | None, numbers, target) -> Verdict:
    """The verdict on a reply (split here if the server split nothing)."""
    return verify(join_reasoning(*reply_parts(reasoning, content)), numbers, target)


def countdown_request(model: str, numbers, target, max_tokens: int, temperature: float = 0.0) -> dict:
    """Keyword arguments for `client.chat.completions.create` for one puzzle."""
    return dict(
        model=model,
        messages=build_messages(numbers, target),
        max_tokens=max_tokens,
        temperature=temperature,
        extra_body=dict(CONTINUE_PREFILL),
    )


def stream_countdown(client, model: str, numbers, target, max_tokens: int,
                     temperature: float = 0.0) -> Iterator[tuple[str, str, Answer | None]]:
    """Yield (reasoning so far, content so far, None) while tokens arrive, then the final
    (reasoning, content, Answer) once the stream ends."""
    stream = client.chat.completions.create(
        stream=True, **countdown_request(model, numbers, target, max_tokens, temperature)
    )
    reasoning, content, finish, saw_content = "", "", None, False
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        r, c = message_parts(choice.delta)
        reasoning += r or ""
        if c is not None:
            content += c
            saw_content = True
        finish = choice.finish_reason or finish
        yield reasoning, content, None
    reasoning, final_content = reply_parts(reasoning, content if saw_content else None)
    yield reasoning, final_content or "", Answer(
        reasoning, final_content, judge(reasoning, final_content, numbers, target), finish
    )
