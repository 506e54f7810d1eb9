"""The Gradio demo: pose a Countdown puzzle to a served checkpoint, watch its reasoning
stream, and see the verifier's verdict (tasks.countdown.verify, the only judge). A Chat tab
talks to the model freely.

    python cli.py demo --base-url http://127.0.0.1:8000      # a server that is already up
    python cli.py demo                                       # starts vLLM on runs/tiny-r1-countdown

Element ids (for the browser test and anyone scripting the page): #numbers, #target, #solve,
#random, #reasoning, #answer, #verdict. Gradio 6 puts an elem_id on the component's wrapper:
select `#numbers textarea` for a Textbox.
"""

from __future__ import annotations

import html

from .client import Answer, message_parts, stream_countdown
from .puzzle import PuzzleError, PuzzleSource, parse_puzzle

DEFAULT_MAX_TOKENS = 256
MAX_TOKENS_CAP = 1024  # no one request may hold the engine for long; the page's slider stops here


def verdict_markdown(answer: Answer, numbers, target) -> str:
    """The verdict line shown on the page: ✓/✗, the equation, its exact value, the reason."""
    v = answer.verdict
    mark = "✓ correct" if v.ok else "✗ incorrect"
    eq = html.escape(v.equation) if v.equation else "(no equation)"
    value = "—" if v.value is None else str(v.value)
    cut = " · stopped at max_tokens" if answer.finish_reason == "length" else ""
    return (f"**{mark}** · reason: `{v.reason}` · equation: `{eq}` · value: `{value}` · target: `{target}` "
            f"· numbers: `{', '.join(map(str, numbers))}`{cut}")


def build_app(client, model: str, puzzles: PuzzleSource, max_tokens_cap: int = MAX_TOKENS_CAP,
              title: str | None = None):
    """The Blocks app. `client` is an `openai.OpenAI` pointed at the server's /v1."""
    import gradio as gr
    import openai

    cap = max(1, int(max_tokens_cap))

    def solve(numbers_text, target_text, max_tokens):
        try:
            numbers, target = parse_puzzle(numbers_text, target_text)
        except PuzzleError as e:
            yield "", "", f"⚠ {e}"
            return
        max_tokens = max(1, min(int(max_tokens or DEFAULT_MAX_TOKENS), cap))
        yield "", "", "… thinking"
        try:
            for reasoning, content, answer in stream_countdown(client, model, numbers, target, max_tokens):
                if answer is None:
                    yield reasoning, content, "… thinking"
                else:
                    yield reasoning, content, verdict_markdown(answer, numbers, target)
        except openai.APIError as e:
            yield "", "", f"⚠ server error: {_one_line(e)}"

    def draw():
        numbers, target = puzzles.draw()
        return ", ".join(map(str, numbers)), str(target)

    def chat(message, history, max_tokens):
        messages = [{"role": m["role"], "content": _text(m["content"])} for m in history
                    if m.get("role") in ("user", "assistant")]
        messages.append({"role": "user", "content": _text(message)})
        max_tokens = max(1, min(int(max_tokens or DEFAULT_MAX_TOKENS), cap))
        reasoning, content = "", ""
        try:
            stream = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens,
                                                    stream=True)
            for chunk in stream:
                if not chunk.choices:
                    continue
                r, c = message_parts(chunk.choices[0].delta)
                reasoning += r or ""
                content += c or ""
                yield _chat_reply(reasoning, content)
        except openai.APIError as e:
            yield f"⚠ server error: {_one_line(e)}"

    with gr.Blocks(title=title or f"mini-r1 · {model}") as app:
        gr.Markdown(f"## mini-r1 Countdown demo · model `{html.escape(model)}`\n"
                    "Use every number once with + − × ÷ to reach the target. The verdict comes from "
                    "the project's verifier, never from the model.")
        with gr.Tab("Countdown"):
            with gr.Row():
                numbers_box = gr.Textbox(label="Numbers", placeholder="19, 36, 55, 7", elem_id="numbers")
                target_box = gr.Textbox(label="Target", placeholder="65", elem_id="target")
            with gr.Row():
                solve_btn = gr.Button("Solve", variant="primary", elem_id="solve")
                random_btn = gr.Button("Random puzzle", elem_id="random")
                max_tokens = gr.Slider(1, cap, value=min(DEFAULT_MAX_TOKENS, cap), step=1, label="max_tokens",
                                       elem_id="max_tokens")
            reasoning_box = gr.Textbox(label="Reasoning (streams)", lines=8, max_lines=16, elem_id="reasoning",
                                       interactive=False)
            answer_box = gr.Textbox(label="Answer (after </think>)", lines=2, elem_id="answer", interactive=False)
            verdict_md = gr.Markdown("", elem_id="verdict")
            inputs = [numbers_box, target_box, max_tokens]
            outputs = [reasoning_box, answer_box, verdict_md]
            solve_btn.click(solve, inputs, outputs)
            target_box.submit(solve, inputs, outputs)
            random_btn.click(draw, None, [numbers_box, target_box], queue=False)
        with gr.Tab("Chat"):
            chat_tokens = gr.Slider(1, cap, value=min(DEFAULT_MAX_TOKENS, cap), step=1, label="max_tokens",
                                    render=False)
            gr.ChatInterface(chat, additional_inputs=[chat_tokens])
    return app


def _chat_reply(reasoning: str, content: str) -> str:
    if reasoning and content:
        return f"<think>{reasoning}</think>\n\n{content}"
    return f"<think>{reasoning}" if reasoning else content


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list):
        return " ".join(_text(c) for c in content)
    return str(content)


def _one_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0][:300] if text else type(e).__name__
