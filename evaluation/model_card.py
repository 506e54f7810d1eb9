"""A run's own model card (`RUN/README.md`, and `RUN/final/README.md` beside the weights a user
serves or pushes): what the model is, the recipe and data it was trained on, the base-vs-trained
table on its test split, and how to evaluate and serve it.

TRL writes its generic template there at every checkpoint ("a fine-tuned version of [None]"); the
end of a run writes this card over it, and `cli.py evaluate` on the run rewrites it with the
table it just scored, so the card always shows the newest numbers and says where they came from.
The table, its paired line, the breakdowns and the alarms are read by common/run_results.py, as the
demo's Run tab reads them: the card and the tab show the same numbers.
"""

from __future__ import annotations

from pathlib import Path

from common.run_dir import FINAL, RECIPE, RUN_JSON, read_json_or_empty, run_path
from common.run_results import breakdowns_text, final_line, notes_lines, results_lines

# recipe keys a reader needs to know what was trained (config.yaml holds every key)
RECIPE_KEYS = ("model_name_or_path", "dtype", "cold_start_steps", "max_steps", "learning_rate", "beta",
               "loss_type", "num_generations", "per_device_train_batch_size", "gradient_accumulation_steps",
               "max_completion_length", "temperature", "reward_funcs", "grpo_prompt_filter", "dynamic_sampling",
               "dataset_source", "dataset_seed", "seed")


def _recipe(run_dir: Path) -> dict:
    import yaml

    try:
        return yaml.safe_load((run_dir / RECIPE).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}


def _count(path: Path | None) -> str:
    try:
        return str(sum(1 for line in Path(path).read_text().splitlines() if line.strip()))
    except (OSError, TypeError):
        return "?"


def model_card(run_dir: Path) -> str:
    run_dir = Path(run_dir)
    run, recipe = read_json_or_empty(run_dir / RUN_JSON), _recipe(run_dir)
    breakdowns = breakdowns_text(run_dir)
    base = recipe.get("model_name_or_path", "?")
    base_text = "the tiny random-weight model mini-r1 builds (`base/`)" if base == "tiny" else f"`{base}`"
    name = run_dir.resolve().name
    front = ["---", f"base_model: {base}" if base != "tiny" else "base_model: null", "library_name: transformers",
             "pipeline_tag: text-generation", "tags: [mini-r1, grpo, trl, countdown, reasoning]", "---", ""]
    body = [f"# {name}", "",
            f"{base_text} trained with GRPO (TRL's `GRPOTrainer`) on Countdown by mini-r1: given 3-4 numbers "
            "and a target, write an equation that uses each number once with + - * / and reaches the target. "
            "The model reasons in `<think>…</think>` and answers in `<answer>…</answer>`; the reward and "
            "every score come from one exact verifier (`tasks/countdown/verifier.py`).", "",
            "## Training", "",
            *notes_lines(run_dir),
            final_line(run_dir),
            f"- Baseline: `{run.get('baseline', '?')}` (the model GRPO started from).",
            "- Recipe: `config.yaml` (the resolved recipe, every key); the main ones:", "",
            "| key | value |", "|---|---|",
            *(f"| {k} | {recipe[k]} |" for k in RECIPE_KEYS if k in recipe), "",
            f"- Data: validation `{run.get('val_split')}` ({_count(run_path(run_dir, run.get('val_split')))} tasks), "
            f"test `{run.get('test_split')}` ({_count(run_path(run_dir, run.get('test_split')))} tasks), "
            "disjoint from training.", "",
            "## Results on the test split", "", *results_lines(run_dir), "",
            *(["### By number count, difficulty and verdict", "", breakdowns, ""] if breakdowns else []),
            "## Use", "", "```bash",
            f"python cli.py evaluate --model {run_dir}          # the table above, with breakdowns",
            f"python cli.py serve --model {run_dir}             # OpenAI-compatible vLLM server",
            f"python cli.py demo --model {run_dir}              # Gradio page that verifies each answer; its Run "
            "tab shows this run",
            "```", "",
            "Prompt: the project's chat prompt (`tasks/countdown/prompt.py`) with the assistant turn "
            "continued from `Let me solve this step by step.\\n<think>`.", ""]
    return "\n".join(front + body)


def write_model_card(run_dir: Path) -> Path:
    """Write the card to RUN/README.md and, when it exists, RUN/final/README.md; return the first."""
    run_dir = Path(run_dir)
    text = model_card(run_dir)
    for folder in (run_dir, run_dir / FINAL):
        if folder.is_dir():
            (folder / "README.md").write_text(text, encoding="utf-8")
    return run_dir / "README.md"
