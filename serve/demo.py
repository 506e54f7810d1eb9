"""The Gradio demo: pose a Countdown puzzle to a served checkpoint, watch its reasoning
stream, and see the verifier's verdict (tasks.countdown.verify, the only judge). A Chat tab
talks to the model freely: its reasoning in a collapsible "Thinking" section, and a verdict
whenever the message poses a puzzle. A Run tab shows the run the demo serves, from its files
(serve/run_tab.py).

    python cli.py demo --base-url http://127.0.0.1:8000      # a server that is already up
    python cli.py demo                                       # starts vLLM on runs/tiny-r1-countdown

Both tabs are greedy by default (temperature 0), as `evaluate` scores the model.

Element ids (for the browser test and anyone scripting the page): #numbers, #target, #solve,
#random, #max_tokens, #reasoning, #answer, #verdict (its mark: #verdict .mark), and in the
Chat tab #chat_max_tokens, #chat_temperature; the Run tab's are listed in serve/run_tab.py.
Gradio 6 puts an elem_id on the component's wrapper: select `#numbers textarea` for a Textbox.
"""

from __future__ import annotations

import html
from pathlib import Path

from .client import Answer, judge, message_parts, reply_parts, stream_countdown
from .puzzle import PuzzleError, PuzzleSource, parse_puzzle, puzzle_in_message

DEFAULT_MAX_TOKENS = 256
MAX_TOKENS_CAP = 1024  # no one request may hold the engine for long; the page's slider stops here
OK_COLOUR, BAD_COLOUR = "#15803d", "#b91c1c"


def verdict_mark(ok: bool) -> str:
    return "✓ correct" if ok else "✗ incorrect"


def verdict_details(answer: Answer, numbers, target) -> str:
    """The line under the mark: the reason, the equation, its exact value, the puzzle."""
    v = answer.verdict
    eq = v.equation if v.equation else "(no equation)"
    value = "—" if v.value is None else str(v.value)
    cut = " · stopped at max_tokens" if answer.finish_reason == "length" else ""
    return (f"reason: {v.reason} · equation: {eq} · value: {value} · target: {target} "
            f"· numbers: {', '.join(map(str, numbers))}{cut}")


def verdict_html(answer: Answer, numbers, target) -> str:
    """A large coloured ✓ / ✗, the details below it (all model text escaped)."""
    ok = answer.verdict.ok
    return (f'<div class="mark" style="font-size:1.8em;font-weight:700;color:{OK_COLOUR if ok else BAD_COLOUR}">'
            f'{verdict_mark(ok)}</div><div class="details" style="opacity:0.8">'
            f'{html.escape(verdict_details(answer, numbers, target))}</div>')


def status_html(text: str) -> str:
    return f'<div class="status">{html.escape(text)}</div>'


def error_message(e: Exception, base_url: str) -> str:
    """One line for a failed request; a server that is down is named, with what to start."""
    import openai

    if isinstance(e, openai.APIConnectionError):
        return (f"⚠ cannot reach the model server at {base_url}: start it with "
                "`python cli.py serve --model RUN_DIR` (or run `python cli.py demo` without --base-url)")
    if isinstance(e, openai.AuthenticationError):
        return f"⚠ the server at {base_url} refused the API key: restart the demo with --api-key"
    lines = str(e).strip().splitlines()
    return f"⚠ server error: {lines[0][:300] if lines else type(e).__name__}"


def build_app(client, model: str, puzzles: PuzzleSource, max_tokens_cap: int = MAX_TOKENS_CAP,
              title: str | None = None, run_dir: Path | None = None):
    """The Blocks app. `client` is an `openai.OpenAI` pointed at the server's /v1; `run_dir`, the run
    the Run tab shows (None: the tab says how to name one)."""
    import gradio as gr
    import openai

    from .run_tab import build_run_tab

    cap = max(1, int(max_tokens_cap))
    base_url = str(client.base_url).rstrip("/").removesuffix("/v1")

    def clamp(max_tokens) -> int:
        return max(1, min(int(max_tokens or DEFAULT_MAX_TOKENS), cap))

    def solve(numbers_text, target_text, max_tokens):
        try:
            numbers, target = parse_puzzle(numbers_text, target_text)
        except PuzzleError as e:
            yield "", "", status_html(f"⚠ {e}")
            return
        yield "", "", status_html("… thinking")
        try:
            for reasoning, content, answer in stream_countdown(client, model, numbers, target, clamp(max_tokens)):
                if answer is None:
                    yield reasoning, content, status_html("… thinking")
                else:
                    yield reasoning, content, verdict_html(answer, numbers, target)
        except openai.APIError as e:
            yield "", "", status_html(error_message(e, base_url))

    def draw():
        numbers, target = puzzles.draw()
        return ", ".join(map(str, numbers)), str(target), "", "", ""  # the old reasoning and verdict go

    def chat(message, history, max_tokens, temperature):
        # The model sees what it answered before, not its thinking or the verifier's notes.
        messages = [{"role": m["role"], "content": _text(m["content"])} for m in history
                    if m.get("role") in ("user", "assistant") and not (m.get("metadata") or {}).get("title")]
        messages.append({"role": "user", "content": _text(message)})
        puzzle = puzzle_in_message(_text(message))
        reasoning, content, finish = "", "", None
        try:
            stream = client.chat.completions.create(model=model, messages=messages, max_tokens=clamp(max_tokens),
                                                    temperature=float(temperature), stream=True)
            for chunk in stream:
                if not chunk.choices:
                    continue
                r, c = message_parts(chunk.choices[0].delta)
                reasoning += r or ""
                content += c or ""
                finish = chunk.choices[0].finish_reason or finish
                yield _chat_messages(gr, reasoning, content, done=False)
        except openai.APIError as e:
            yield [gr.ChatMessage(content=error_message(e, base_url))]
            return
        reasoning, content = reply_parts(reasoning, content)
        content = content or ""
        reply = _chat_messages(gr, reasoning, content, done=True)
        if puzzle is not None:
            answer = Answer(reasoning, content or None, judge(reasoning, content or None, *puzzle), finish)
            reply.append(gr.ChatMessage(content=verdict_details(answer, *puzzle),
                                        metadata={"title": f"{verdict_mark(answer.verdict.ok)} (verifier)",
                                                  "status": "done"}))
        yield reply

    with gr.Blocks(title=title or f"mini-r1 · {model}") as app:
        gr.Markdown(f"## mini-r1 Countdown demo · model `{html.escape(model)}`\n"
                    "Use every number once with + − × ÷ to reach the target. The verdict comes from "
                    "the project's verifier, never from the model. Answers are greedy (temperature 0).")
        with gr.Tab("Countdown"):
            with gr.Row():
                numbers_box = gr.Textbox(label="Numbers", placeholder="19, 36, 55, 7", elem_id="numbers")
                target_box = gr.Textbox(label="Target", placeholder="65", elem_id="target")
            with gr.Row():
                solve_btn = gr.Button("Solve", variant="primary", elem_id="solve")
                random_btn = gr.Button("Random puzzle", elem_id="random")
                max_tokens = gr.Slider(1, cap, value=min(DEFAULT_MAX_TOKENS, cap), step=1, label="max_tokens",
                                       elem_id="max_tokens")
            verdict = gr.HTML("", elem_id="verdict")
            reasoning_box = gr.Textbox(label="Reasoning (streams)", lines=8, max_lines=16, elem_id="reasoning",
                                       interactive=False)
            answer_box = gr.Textbox(label="Answer (after </think>)", lines=2, elem_id="answer", interactive=False)
            inputs = [numbers_box, target_box, max_tokens]
            outputs = [reasoning_box, answer_box, verdict]
            solve_btn.click(solve, inputs, outputs)
            target_box.submit(solve, inputs, outputs)
            random_btn.click(draw, None, [numbers_box, target_box, *outputs], queue=False)
        with gr.Tab("Chat"):
            chat_tokens = gr.Slider(1, cap, value=min(DEFAULT_MAX_TOKENS, cap), step=1, label="max_tokens",
                                    elem_id="chat_max_tokens", render=False)
            chat_temperature = gr.Slider(0.0, 1.5, value=0.0, step=0.05, label="temperature (0: greedy)",
                                         elem_id="chat_temperature", render=False)
            gr.ChatInterface(chat, additional_inputs=[chat_tokens, chat_temperature],
                             additional_inputs_accordion=gr.Accordion("Settings", open=True, render=False),
                             examples=[["Using the numbers [19, 36, 55, 7], create an equation that equals 65."]],
                             run_examples_on_click=False)
        build_run_tab(app, run_dir)
    return app


def _chat_messages(gr, reasoning: str, content: str, done: bool) -> list:
    """The reply as Gradio shows it: the reasoning in a collapsible "Thinking" section, then the answer."""
    out = []
    if reasoning:
        out.append(gr.ChatMessage(content=reasoning, metadata={"title": "Thinking",
                                                               "status": "done" if done else "pending"}))
    if content or not reasoning:
        out.append(gr.ChatMessage(content=content or ("(no answer)" if done else "…")))
    return out


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list):
        return " ".join(_text(c) for c in content)
    return str(content)
