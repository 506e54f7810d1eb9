"""Evaluation of Countdown checkpoints with lm-eval: a checkpoint against its baseline on the
500 held-out tasks, through Hugging Face, vLLM or any OpenAI-compatible server.

    python cli.py evaluate                                  # the embedded run vs its baseline
    python cli.py evaluate --model runs/NAME --backend vllm
    python cli.py evaluate --backend api --base-url http://127.0.0.1:8000 --no-baseline

Named `evaluation`, not `evaluate`: a top-level `evaluate` folder would shadow the Hugging Face
package of that name, which lm-eval imports. The API for other code is
`evaluation.runner.evaluate_model`.
"""
