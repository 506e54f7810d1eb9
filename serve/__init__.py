"""Serving: a checkpoint behind vLLM's OpenAI-compatible server (`cli.py serve`) and a Gradio
demo that judges its answers with the project's verifier (`cli.py demo`).

    python cli.py serve --model runs/tiny-r1-countdown
    python cli.py demo
"""
