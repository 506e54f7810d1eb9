"""vLLM reasoning parser `mini_r1`: splits at the *text* `</think>` (tasks.countdown.think_split), so it
works for any tokenizer. vLLM's `deepseek_r1` looks `<think>`/`</think>` up as single tokens
and refuses Qwen2.5-Instruct's vocabulary, which has neither.

Loaded by vLLM as a plugin (`cli.py serve` passes both flags):

    vllm serve MODEL --reasoning-parser-plugin serve/reasoning_parser.py --reasoning-parser mini_r1

Streaming: the parser keeps its own text state (vLLM's `engine_based_streaming` contract:
`has_engine_confirmed_reasoning_end` says when content starts, `finish_streaming` hands back
what was held at the end), because a `</think>` written as several tokens can arrive across
deltas. The streamed parts join to exactly the non-streamed ones.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from vllm.reasoning.abs_reasoning_parsers import ReasoningParser, ReasoningParserManager

try:  # vLLM 0.32 (the CPU pin); earlier releases kept DeltaMessage with the OpenAI protocol
    from vllm.entrypoints.generate.base.protocol import DeltaMessage
except ImportError:  # pragma: no cover - only the GPU pin (vLLM 0.31) takes this path
    try:
        from vllm.entrypoints.openai.engine.protocol import DeltaMessage
    except ImportError:
        from vllm.entrypoints.openai.protocol import DeltaMessage

if __package__ in (None, ""):  # loaded from its file path: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.countdown.think_split import (THINK_CLOSE, THINK_OPEN, StreamSplit,  # noqa: E402
                                         reasoning_closed, split_reasoning)

NAME = "mini_r1"


class ThinkTextReasoningParser(ReasoningParser):
    engine_based_streaming = True

    def __init__(self, tokenizer, *args, **kwargs):
        super().__init__(tokenizer, *args, **kwargs)
        self._split = StreamSplit()

    @property
    def reasoning_start_str(self) -> str:
        return THINK_OPEN

    @property
    def reasoning_end_str(self) -> str:
        return THINK_CLOSE

    def _decode(self, ids: Sequence[int]) -> str:
        return self.model_tokenizer.decode(list(ids))

    def is_reasoning_end(self, input_ids: Sequence[int]) -> bool:
        # vLLM asks this of the prompt: one ending in the prefill's <think> leaves reasoning open.
        return reasoning_closed(self._decode(input_ids))

    def is_reasoning_end_streaming(self, input_ids: Sequence[int], delta_ids: Iterable[int]) -> bool:
        # A tag is at most len(THINK_CLOSE) tokens: the delta plus that many before it can hold it.
        delta = list(delta_ids)
        return THINK_CLOSE in self._decode(list(input_ids)[-(len(delta) + len(THINK_CLOSE)):])

    def _tokens_before(self, ids: Sequence[int], chars: int) -> int:
        """The fewest leading tokens whose text is at least `chars` long (the text grows with the prefix)."""
        lo, hi = 0, len(ids)
        while lo < hi:
            mid = (lo + hi) // 2
            if len(self._decode(ids[:mid])) >= chars:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def extract_content_ids(self, input_ids: list[int]) -> list[int]:
        text = self._decode(input_ids)
        end = text.find(THINK_CLOSE)
        if end < 0:
            return []
        return input_ids[self._tokens_before(input_ids, end + len(THINK_CLOSE)):]

    def count_reasoning_tokens(self, token_ids: Sequence[int]) -> int:
        text = self._decode(token_ids)
        end = text.find(THINK_CLOSE)
        return len(token_ids) if end < 0 else self._tokens_before(token_ids, end)

    def extract_reasoning(self, model_output: str, request) -> tuple[str | None, str | None]:
        final = _continued_message(request)
        if final is not None and reasoning_closed(final):
            return None, model_output  # the client's own assistant turn already closed the think block
        return split_reasoning(model_output)

    def extract_reasoning_streaming(self, previous_text, current_text, delta_text, previous_token_ids,
                                    current_token_ids, delta_token_ids) -> DeltaMessage | None:
        reasoning, content = self._split.feed(delta_text)
        if not reasoning and not content:
            return None
        return DeltaMessage(reasoning=reasoning or None, content=content or None)

    def has_engine_confirmed_reasoning_end(self) -> bool:
        return self._split.content_started

    def finish_streaming(self) -> DeltaMessage | None:
        rest = self._split.finish()
        return DeltaMessage(reasoning=rest) if rest else None


def _continued_message(request) -> str | None:
    """The text of the assistant turn a `continue_final_message` request continues, else None."""
    if not getattr(request, "continue_final_message", False):
        return None
    messages = getattr(request, "messages", None) or []
    if not messages:
        return None
    last = messages[-1]
    content = last.get("content") if isinstance(last, dict) else getattr(last, "content", None)
    if isinstance(content, list):
        content = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return content if isinstance(content, str) else None


ReasoningParserManager.register_module(NAME, module=ThinkTextReasoningParser)
