"""The chat template `cli.py serve` gives vLLM: the checkpoint's own template, plus the two
things a trained model expects that a plain client does not send. A request without a system
message gets the training system prompt; a new assistant turn (`add_generation_prompt`) starts
with the training prefill (`Let me solve this step by step.\\n<think>`), as R1-style models'
templates open the think block themselves. A request that already sends both (the training
prompt with `continue_final_message`) renders exactly as in training, so either request gets
the answer format the model was trained on.
"""

from __future__ import annotations

import json
from pathlib import Path

from tasks.countdown.prompt import ASSISTANT_PREFILL, SYSTEM_PROMPT

MARK = "{#- mini-r1 served template -#}"


def served_chat_template(model_template: str) -> str:
    """Wrap a model's Jinja chat template; wrapping twice changes nothing."""
    if model_template.startswith(MARK):
        return model_template
    return (
        MARK
        + "{%- if not messages or messages[0]['role'] != 'system' %}"
        + "{%- set messages = [{'role': 'system', 'content': " + json.dumps(SYSTEM_PROMPT) + "}] + messages %}"
        + "{%- endif %}"
        + model_template
        + "{%- if add_generation_prompt %}{{- " + json.dumps(ASSISTANT_PREFILL) + " }}{%- endif %}"
    )


def write_served_chat_template(model_dir: str | Path, out: str | Path) -> Path:
    """The model's template, wrapped, as a file for `vllm serve --chat-template`."""
    from transformers import AutoTokenizer

    template = AutoTokenizer.from_pretrained(model_dir).chat_template
    if not isinstance(template, str):
        raise ValueError(f"{model_dir}: the tokenizer has no (single) chat template to serve")
    out = Path(out)
    out.write_text(served_chat_template(template))
    return out
