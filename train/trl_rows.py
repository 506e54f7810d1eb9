"""Split rows turned into what TRL's trainers take: prompt-only rows for GRPO (the reward
functions get `nums`/`target` as columns) and prompt/completion rows for the cold-start SFT
(solver-written traces). Which rows a run trains on is `train.splits`'.

A cold-start trace is what the model should write after the prompt's `<think>` prefill:

    >>> solver_completion([19, 36, 55, 7], 65)
    '36-19=17 55-7=48 17+48=65</think>\\n<answer>(36-19)+(55-7)</answer>'
"""

from __future__ import annotations

from tasks.countdown.data import DataError


def reversed_result(step: str) -> str:
    """A step with its value's digits written least-significant first, the order column addition
    produces them (small transformers learn arithmetic far faster so: Lee et al., arXiv 2307.03387).
    Operands keep their order; a value that is not a plain integer stays as it is.

    >>> reversed_result("36-19=17"), reversed_result("4*25=100"), reversed_result("19-36=-17")
    ('36-19=71', '4*25=001', '19-36=-17')
    """
    lhs, _, value = step.rpartition("=")
    return f"{lhs}={value[::-1]}" if value.isdigit() else step


def render_steps(steps, digits: str = "forward") -> str:
    """The think block's steps, space-separated, their values in `digits` order."""
    return " ".join(reversed_result(s) if digits == "reversed" else s for s in steps)


def solver_completion(nums, target, traces: str = "first", digits: str = "forward") -> str | None:
    """The cold-start target text: one step per operation, then the answer (None if unsolvable).
    `traces="diverse"` shows one of the task's solutions drawn with a seed of its own:

    >>> solver_completion([2, 3, 4], 10, "diverse") == solver_completion([2, 3, 4], 10, "diverse")
    True
    """
    import random

    from tasks.countdown.solver import all_solutions, solve

    if traces in ("search", "until_hit"):
        return search_completion(nums, target, digits=digits, until_hit=traces == "until_hit")
    sols = all_solutions(sorted(nums), target) if traces == "diverse" else []
    if sols:
        sol = random.Random(f"{sorted(nums)}:{target}").choice(sols)
    else:
        sol = solve(nums, target, integer_only=True) or solve(nums, target)
    if sol is None:
        return None
    return render_steps(sol.steps, digits) + "</think>\n<answer>" + sol.expression + "</answer>"


# `until_hit` traces: the chance that the next attempt is the hit, and the most misses a trace shows (by number
# count), so that a trace stays inside a 128-token completion (98% of them do); the reversed form's `>65|65` tails
# need ~192 tokens (docs/2026-12-04-search-until-hit.md).
UNTIL_HIT_CHANCE = 0.4
UNTIL_HIT_MAX_MISSES = {3: 4, 4: 2}


def attempt_text(steps, digits: str, compared_with=None) -> str:
    """One attempt of a search trace. With `compared_with` (until_hit traces, reversed digits) it also writes its
    value forward, then the target: whether to stop is a comparison of two neighbouring numbers. A model of this
    size did not learn to compare the forward copy alone with the prompt's target
    (docs/2026-12-04-search-until-hit.md).

    >>> attempt_text(["36-19=17", "55-7=48", "17+48=65"], "reversed", 65)
    '36-19=71 55-7=84 17+48=56>65|65'
    """
    text = render_steps(steps, digits)
    if compared_with is None:
        return text
    return f"{text}>{steps[-1].rpartition('=')[2]}|{int(compared_with)}"


def search_completion(nums, target, tries: int = 24, digits: str = "forward", until_hit: bool = False) -> str | None:
    """A trace that tries, checks and tries again (Stream of Search, arXiv 2404.03683, in small): failed attempts
    (each the closest to the target of `tries` random ones, distinct, its steps computed and its miss marked "no"),
    then the solver's first solution. Seeded per task.

    How many misses: up to two (`search`; tried on the embedded run, it did not help a model this small:
    docs/2026-12-03-whole-run-speed-and-search.md), or, with `until_hit`, as many as a coin that lands "hit" with
    UNTIL_HIT_CHANCE takes, so the count of misses so far says almost nothing about whether the next attempt hits:
    only the attempt's computed value does. The tiny model learns to stop at its hit from these, but its attempts
    do not improve on each other and GRPO gained +2.0 points at best (docs/2026-12-04-search-until-hit.md).

    >>> search_completion([19, 36, 55, 7], 65) == search_completion([19, 36, 55, 7], 65)
    True
    """
    import random

    from tasks.countdown.solver import random_attempt, solve

    sol = solve(nums, target, integer_only=True) or solve(nums, target)
    if sol is None:
        return None
    rng = random.Random(f"search:{sorted(nums)}:{target}")
    if until_hit:
        cap = UNTIL_HIT_MAX_MISSES.get(len(nums), 2)
        misses = 0
        while misses < cap and rng.random() >= UNTIL_HIT_CHANCE:
            misses += 1
    else:
        misses = rng.choices([0, 1, 2], weights=[4, 4, 2])[0]
    compared_with = target if until_hit and digits == "reversed" else None
    parts, shown = [], set()
    for _ in range(misses):
        tried = [random_attempt(nums, rng) for _ in range(tries)]
        # `search` keeps its traces as they were measured: only until_hit refuses a repeated attempt
        tried = [t for t in tried if t[0] != target and (not until_hit or tuple(t[1]) not in shown)]
        if tried:
            _, steps = min(tried, key=lambda t: abs(t[0] - target))
            shown.add(tuple(steps))
            parts.append(attempt_text(steps, digits, compared_with) + " no")
    parts.append(attempt_text(sol.steps, digits, compared_with))
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


def sft_dataset(rows: list[dict], tokenizer, limit: int, traces: str = "first", digits: str = "forward"):
    """Cold-start rows (prompt, completion) for TRL's SFTTrainer; loss on the completion only."""
    from datasets import Dataset

    from tasks.countdown.prompt import render_prompt

    prompts, completions = [], []
    for r in rows:
        if len(prompts) >= limit:
            break
        c = solver_completion(r["nums"], r["target"], traces, digits)
        if c is None:
            continue
        prompts.append(render_prompt(tokenizer, r["nums"], r["target"]))
        completions.append(c)
    if not prompts:
        raise DataError("no solvable task to write cold-start traces from")
    return Dataset.from_dict({"prompt": prompts, "completion": completions})


def arithmetic_dataset(rows: list[dict], tokenizer, n_lines: int, per_line: int, digits: str, seed: int):
    """Tokenized arithmetic lines for the cold start (`cold_start_arithmetic_lines`): `per_line` steps drawn
    at random (seeded) from the solver's steps of `rows`, written as the traces write them. Only each step's
    value (and the space after it) is learned; the operands are random here, where a trace must copy the
    task's (docs/2026-12-03-a-cold-start-that-computes.md)."""
    import random

    from datasets import Dataset

    from tasks.countdown.solver import solve

    steps = []
    for r in rows:
        sol = solve(r["nums"], r["target"], integer_only=True)
        if sol is not None:
            steps.extend(sol.steps)
    if not steps:
        raise DataError("no solvable task to draw arithmetic steps from")
    rng = random.Random(f"arithmetic:{seed}")

    pieces = []  # per line: (shown, learned) text pairs, tokenized in one batch below
    for _ in range(n_lines):
        for k, step in enumerate(rng.choices(steps, k=per_line)):
            lhs, _, value = render_steps([step], digits).rpartition("=")
            pieces += [lhs + "=", value + (" " if k < per_line - 1 else "")]
    ids = tokenizer(pieces, add_special_tokens=False)["input_ids"]
    input_ids, labels = [], []
    for i in range(0, len(ids), 2 * per_line):
        line = ids[i:i + 2 * per_line]
        input_ids.append([t for piece in line for t in piece])
        labels.append([t if j % 2 else -100 for j, piece in enumerate(line) for t in piece])
    return Dataset.from_dict({"input_ids": input_ids, "labels": labels})


def with_arithmetic(traces, arithmetic, tokenizer):
    """One tokenized dataset of the cold-start traces (loss on the completion and its EOS, as TRL's
    SFTTrainer computes it) and the arithmetic rows; the trainer's sampler shuffles them together."""
    from datasets import Dataset, concatenate_datasets

    prompts = tokenizer(list(traces["prompt"]), add_special_tokens=False)["input_ids"]
    completions = tokenizer([c + tokenizer.eos_token for c in traces["completion"]],
                            add_special_tokens=False)["input_ids"]
    rows = Dataset.from_dict({"input_ids": [p + c for p, c in zip(prompts, completions)],
                              "labels": [[-100] * len(p) + c for p, c in zip(prompts, completions)]})
    return concatenate_datasets([rows, arithmetic])


__all__ = ["arithmetic_dataset", "prompt_dataset", "render_steps", "reversed_result", "sft_dataset",
           "solver_completion", "with_arithmetic"]
