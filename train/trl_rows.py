"""Split rows turned into what TRL's trainers take: prompt-only rows for GRPO (the reward
functions get `nums`/`target` as columns) and prompt/completion rows for the cold-start SFT
(solver-written traces). Which rows a run trains on is `train.splits`'.

A cold-start trace is what the model should write after the prompt's `<think>` prefill:

    >>> solver_completion([19, 36, 55, 7], 65)
    '36-19=17 55-7=48 17+48=65</think>\\n<answer>(36-19)+(55-7)</answer>'
"""

from __future__ import annotations

from tasks.countdown.data import DataError


def solver_completion(nums, target, traces: str = "first") -> str | None:
    """The cold-start target text: one step per operation, then the answer (None if unsolvable).
    `traces="diverse"` shows one of the task's solutions drawn with a seed of its own:

    >>> solver_completion([2, 3, 4], 10, "diverse") == solver_completion([2, 3, 4], 10, "diverse")
    True
    """
    import random

    from tasks.countdown.solver import all_solutions, solve

    if traces == "search":
        return search_completion(nums, target)
    sols = all_solutions(sorted(nums), target) if traces == "diverse" else []
    if sols:
        sol = random.Random(f"{sorted(nums)}:{target}").choice(sols)
    else:
        sol = solve(nums, target, integer_only=True) or solve(nums, target)
    if sol is None:
        return None
    return " ".join(sol.steps) + "</think>\n<answer>" + sol.expression + "</answer>"


def search_completion(nums, target, tries: int = 24) -> str | None:
    """A trace that tries, checks and tries again (Stream of Search, arXiv 2404.03683, in small): up to
    two failed attempts (each the closest to the target of `tries` random ones, its steps computed and
    its miss marked "no"), then the solver's first solution. Seeded per task. Tried on the embedded
    run, it did not help a model this small (docs/2026-12-03-whole-run-speed-and-search.md).

    >>> search_completion([19, 36, 55, 7], 65) == search_completion([19, 36, 55, 7], 65)
    True
    """
    import random

    from tasks.countdown.solver import random_attempt, solve

    sol = solve(nums, target, integer_only=True) or solve(nums, target)
    if sol is None:
        return None
    rng = random.Random(f"search:{sorted(nums)}:{target}")
    misses = rng.choices([0, 1, 2], weights=[4, 4, 2])[0]
    parts = []
    for _ in range(misses):
        tried = [random_attempt(nums, rng) for _ in range(tries)]
        tried = [t for t in tried if t[0] != target]
        if tried:
            parts.append(" ".join(min(tried, key=lambda t: abs(t[0] - target))[1]) + " no")
    parts.append(" ".join(sol.steps))
    return " ".join(parts) + "</think>\n<answer>" + sol.expression + "</answer>"


def prompt_dataset(rows: list[dict], tokenizer, max_prompt_length: int):
    """GRPO rows: the rendered prompt (ends inside the prefilled `<think>`), plus nums/target."""
    from datasets import Dataset

    from tasks.countdown.prompt import render_prompt

    out = {"prompt": [], "nums": [], "target": []}
    for r in rows:
        prompt = render_prompt(tokenizer, r["nums"], r["target"])
        if len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) > max_prompt_length:
            continue
        out["prompt"].append(prompt)
        out["nums"].append(list(r["nums"]))
        out["target"].append(int(r["target"]))
    if not out["prompt"]:
        raise DataError(f"no prompt fits max_prompt_length={max_prompt_length} tokens")
    return Dataset.from_dict(out)


def sft_dataset(rows: list[dict], tokenizer, limit: int, traces: str = "first"):
    """Cold-start rows (prompt, completion) for TRL's SFTTrainer; loss on the completion only."""
    from datasets import Dataset

    from tasks.countdown.prompt import render_prompt

    prompts, completions = [], []
    for r in rows:
        if len(prompts) >= limit:
            break
        c = solver_completion(r["nums"], r["target"], traces)
        if c is None:
            continue
        prompts.append(render_prompt(tokenizer, r["nums"], r["target"]))
        completions.append(c)
    if not prompts:
        raise DataError("no solvable task to write cold-start traces from")
    return Dataset.from_dict({"prompt": prompts, "completion": completions})


__all__ = ["prompt_dataset", "sft_dataset", "solver_completion"]
