"""lm-eval's `local-chat-completions` model, adjusted for the Countdown prompt, so any
OpenAI-compatible server (`cli.py serve`, `vllm serve`, ...) is scored like a local model.

    python cli.py evaluate --backend api --base-url http://127.0.0.1:8000 --api-key KEY

Three changes, nothing else:
- the prompt ends with the assistant prefill, so the request asks the server to continue that
  message (`continue_final_message`, vLLM's chat-completions extension) instead of opening a new turn;
- a server run with a reasoning parser (`cli.py serve`'s `mini_r1`, or a vLLM one) returns the think
  block apart from the content; it is joined back, so the format check sees the whole completion;
- an answer that is not a chat completion is an error, not a silently empty completion.
"""

from __future__ import annotations

from lm_eval.api.registry import register_model
from lm_eval.models.openai_completions import LocalChatCompletion

from common import private_api
from tasks.countdown.think_split import join_reasoning

# Overrides lm-eval's TemplateAPI._create_payload (written for lm-eval 0.4.13; common/private_api.py).
private_api.check(__name__)

MODEL_NAME = "countdown-chat-completions"


class ServerAnswerError(RuntimeError):
    """The server answered something that is not an OpenAI chat completion."""


def completion_from_message(message: dict) -> str | None:
    """The assistant text, with a reasoning field (if the server split one off) put back
    in front of its closing `</think>`.

    >>> completion_from_message({"content": "<answer>1+2</answer>", "reasoning_content": "x"})
    'x</think><answer>1+2</answer>'
    >>> completion_from_message({"content": None, "reasoning": "no end"})
    'no end'
    """
    content = message.get("content")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if not reasoning:  # the server split nothing off: the content is the whole completion
        return content
    return join_reasoning(reasoning, content)


@register_model(MODEL_NAME)
class CountdownChatCompletion(LocalChatCompletion):
    def __init__(self, api_key: str | None = None, **kwargs):
        self._countdown_api_key = api_key or ""
        super().__init__(**kwargs)

    @property
    def header(self) -> dict:
        return {"Authorization": f"Bearer {self._countdown_api_key}"} if self._countdown_api_key else {}

    def _create_payload(self, messages, generate=False, gen_kwargs=None, seed=1234, eos=None, **kwargs) -> dict:
        payload = super()._create_payload(messages, generate=generate, gen_kwargs=gen_kwargs, seed=seed, eos=eos, **kwargs)
        if messages and messages[-1].get("role") == "assistant":
            payload.setdefault("continue_final_message", True)
            payload.setdefault("add_generation_prompt", False)
        return payload

    def parse_generations(self, outputs, **kwargs) -> list[str]:
        res: list[str] = []
        for out in outputs if isinstance(outputs, list) else [outputs]:
            try:
                choices = sorted(out["choices"], key=lambda c: c.get("index", 0))
                texts = [completion_from_message(c["message"]) for c in choices]
            except (KeyError, TypeError, AttributeError):
                raise ServerAnswerError(f"the server's answer is not a chat completion: {str(out)[:200]!r}") from None
            if not texts or any(t is not None and not isinstance(t, str) for t in texts):
                raise ServerAnswerError(f"the server's answer holds no text: {str(out)[:200]!r}")
            res.extend("" if t is None else t for t in texts)
        return res
