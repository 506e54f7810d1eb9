"""Where reasoning ends, and how the two parts join back: the one rule the server's reasoning parser,
the client, the demo and the api evaluation backend share. It works on *text*, so it holds for any
tokenizer (Qwen2.5's has no `<think>` token and writes `</think>` as `</` `think` `>`).

The prompt ends inside the think block (the prefill `...<think>`), so a completion is reasoning up
to its first `</think>` and content after it; a `<think>` the model repeats at the very start is
dropped; with no `</think>` it is all reasoning. Whitespace between `</think>` and the answer is
not content.

    >>> split_reasoning("24+5=29 </think>\\n<answer>24+5</answer>")
    ('24+5=29 ', '<answer>24+5</answer>')
    >>> split_reasoning("no end tag")
    ('no end tag', None)
    >>> join_reasoning('24+5=29 ', '<answer>24+5</answer>')
    '24+5=29 </think><answer>24+5</answer>'
    >>> s = StreamSplit()
    >>> [s.feed(d) for d in ["a </", "thi", "nk>", "\\n", "<answer>"]]
    [('a ', ''), ('', ''), ('', ''), ('', ''), ('', '<answer>')]
"""

from __future__ import annotations

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def split_reasoning(text: str) -> tuple[str, str | None]:
    """(reasoning, content) of a whole completion; content is None when nothing follows `</think>`."""
    text = text.removeprefix(THINK_OPEN)
    reasoning, sep, content = text.partition(THINK_CLOSE)
    if not sep:
        return text, None
    return reasoning, content.lstrip() or None


def join_reasoning(reasoning: str | None, content: str | None) -> str:
    """The completion as the model wrote it after the prefill, rebuilt from the parsed parts: what
    the verifier (and the training reward) sees."""
    if content is None:
        return reasoning or ""
    return (reasoning or "") + THINK_CLOSE + content


def reasoning_closed(text: str) -> bool:
    """True when `text` (a prompt, or the assistant turn it ends with) has closed its last think block."""
    return text.rfind(THINK_CLOSE) > text.rfind(THINK_OPEN)


def _held(text: str) -> int:
    """How many trailing characters could be the start of `</think>` and must wait for the next delta."""
    for k in range(min(len(THINK_CLOSE) - 1, len(text)), 0, -1):
        if text.endswith(THINK_CLOSE[:k]):
            return k
    return 0


class StreamSplit:
    """`split_reasoning` one delta at a time: the reasoning deltas joined, then the content deltas
    joined, equal `split_reasoning` of the whole text, however the text was cut into deltas.
    Text that may be the start of a tag is held back until the next delta (or `finish`)."""

    def __init__(self) -> None:
        self.text = ""
        self.sent = 0  # characters of reasoning already given out
        self.closed = False  # `</think>` seen
        self.content_started = False  # something other than whitespace followed it

    def _body(self, final: bool) -> str:
        if self.text.startswith(THINK_OPEN):
            return self.text[len(THINK_OPEN):]
        if not final and THINK_OPEN.startswith(self.text):
            return ""  # may still become a leading <think>
        return self.text

    def feed(self, delta: str) -> tuple[str, str]:
        """(reasoning delta, content delta) for the next piece of the completion."""
        if self.content_started:
            return "", delta
        self.text += delta
        body = self._body(final=False)
        end = body.find(THINK_CLOSE)
        if end < 0:
            safe = len(body) - _held(body)
            reasoning, self.sent = body[self.sent:safe], max(self.sent, safe)
            return reasoning, ""
        reasoning, self.sent = body[self.sent:end], end
        self.closed = True
        content = body[end + len(THINK_CLOSE):].lstrip()
        self.content_started = bool(content)
        return reasoning, content

    def finish(self) -> str:
        """The reasoning still held back when the completion ends (a cut-off `</thi`, a lone `<thi`)."""
        if self.closed:
            return ""
        rest = self._body(final=True)[self.sent:]
        self.sent += len(rest)
        return rest
