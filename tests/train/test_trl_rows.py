"""Cold-start traces (train/trl_rows.py): the solver's first solution, one drawn from all of them, or a search."""

from __future__ import annotations

import re

import pytest

from tasks.countdown import verify_equation
from tasks.countdown.solver import all_solutions
from tasks.countdown.think_steps import check_steps
from train.trl_rows import arithmetic_dataset, reversed_result, solver_completion

TASKS = [([19, 36, 55, 7], 65), ([2, 3, 4], 10), ([44, 19, 35], 98), ([12, 97, 7, 15], 28), ([6, 4, 3, 2], 24),
         ([8, 5, 3], 1), ([10, 2, 5, 1], 20), ([9, 3, 6], 18)]


def answer(completion: str) -> str:
    return re.search(r"<answer>(.*)</answer>", completion).group(1)


def test_diverse_traces_verify_are_seeded_per_task_and_differ_from_the_first():
    differ = 0
    for nums, target in TASKS:
        c = solver_completion(nums, target, "diverse")
        assert verify_equation(answer(c), nums, target).ok, c
        assert c == solver_completion(list(reversed(nums)), target, "diverse")  # a function of the task alone
        steps = tuple(c.split("</think>")[0].split())
        assert steps in {s.steps for s in all_solutions(sorted(nums), target)}
        differ += c != solver_completion(nums, target, "first")
    assert differ >= 2, "diverse traces never left the search order's first solution"


def test_a_task_only_the_rational_search_solves_falls_back_to_it():
    # 3 3 8 8 -> 24 needs 8/(3-8/3): no integer-rule solution to draw from
    c = solver_completion([3, 3, 8, 8], 24, "diverse")
    assert c == solver_completion([3, 3, 8, 8], 24, "first") and verify_equation(answer(c), [3, 3, 8, 8], 24).ok


@pytest.mark.parametrize("traces", ["search", "until_hit"])
def test_search_traces_compute_every_attempt_mark_each_miss_and_end_on_the_first_solution(traces):
    misses = 0
    for nums, target in TASKS + [([3, 3, 8, 8], 24)]:
        c = solver_completion(nums, target, traces)
        think = c.split("</think>")[0]
        *tried, last = think.split(" no ")
        assert last == solver_completion(nums, target, "first").split("</think>")[0], c
        assert c.endswith(solver_completion(nums, target, "first").split("</think>")[1]), c
        assert verify_equation(answer(c), nums, target).ok, c
        for attempt in tried:
            right, written = check_steps(attempt, nums)
            assert right == written == len(nums) - 1, attempt  # every step exact, every number used once
            assert int(attempt.split("=")[-1]) != target, attempt  # a miss is a miss
        assert c == solver_completion(list(nums), target, traces)  # seeded: the same trace every time
        if traces == "until_hit":
            assert len(set(tried)) == len(tried), c  # each miss is a new attempt
        misses += len(tried)
    assert misses >= 3, "search traces never showed a failed attempt"


def test_until_hit_traces_keep_trying_past_two_misses_and_stop_at_no_fixed_count():
    """After k misses the next attempt hits about as often for every k below the cap: the count of misses
    does not say when to stop, only the computed value does."""
    from tasks.countdown.data import generate_tasks
    from train.trl_rows import UNTIL_HIT_CHANCE

    reached, hit = [0] * 5, [0] * 5
    for r in generate_tasks(600, seed=3):
        if len(r["nums"]) != 3 or (c := solver_completion(r["nums"], r["target"], "until_hit")) is None:
            continue
        k = c.split("</think>")[0].count(" no")
        for j in range(k + 1):
            reached[j] += 1
        hit[k] += 1
    assert reached[3] > 0 and reached[4] > 0, reached  # past the two misses `search` stops at
    for j in range(3):  # below the cap the next attempt hits with the coin's chance
        assert abs(hit[j] / reached[j] - UNTIL_HIT_CHANCE) < 0.1, (j, hit, reached)


@pytest.mark.parametrize("traces", ["first", "search", "until_hit"])
def test_reversed_traces_write_each_value_least_significant_digit_first_and_nothing_else_changes(traces):
    turned = 0
    for nums, target in TASKS:
        fwd, rev = solver_completion(nums, target, traces), solver_completion(nums, target, traces, "reversed")
        assert fwd.split("</think>")[1] == rev.split("</think>")[1]  # the answer is written as always
        fwd_steps, rev_steps = fwd.split("</think>")[0].split(" "), rev.split("</think>")[0].split(" ")
        assert len(fwd_steps) == len(rev_steps)
        for i, (f, r) in enumerate(zip(fwd_steps, rev_steps)):
            if "=" not in f:  # a search trace's "no"
                assert f == r
                continue
            (lhs_f, val_f), (lhs_r, val_r) = f.rsplit("=", 1), r.rsplit("=", 1)
            ends_attempt = i == len(rev_steps) - 1 or rev_steps[i + 1] == "no"
            if traces == "until_hit" and ends_attempt:
                val_r, sep, copy = val_r.partition(">")
                assert sep and copy == f"{val_f}|{target}", (f, r)  # the value forward, beside the target
            assert lhs_f == lhs_r and val_r == val_f[::-1], (f, r)
        turned += sum(len(s.rsplit("=", 1)[1]) > 1 for s in rev_steps if "=" in s)
    assert turned >= 5  # multi-digit values were turned


def test_the_arithmetic_rows_teach_the_values_alone_seeded():
    from train.tiny_model import build_tokenizer

    tok = build_tokenizer()
    rows = [{"nums": n, "target": t} for n, t in TASKS]
    ds = arithmetic_dataset(rows, tok, n_lines=6, per_line=4, digits="reversed", seed=0)
    assert ds["input_ids"] == arithmetic_dataset(rows, tok, 6, 4, "reversed", seed=0)["input_ids"]
    assert ds["input_ids"] != arithmetic_dataset(rows, tok, 6, 4, "reversed", seed=1)["input_ids"]
    steps = {s for n, t in TASKS for s in solver_completion(n, t).split("</think>")[0].split(" ")}
    for ids, labels in zip(ds["input_ids"], ds["labels"]):
        line = tok.decode(ids).split(" ")
        assert len(line) == 4 and all(s in {reversed_result(x) for x in steps} for s in line)
        learned = tok.decode([i for i, lab in zip(ids, labels) if lab != -100])
        assert learned == " ".join(s.rsplit("=", 1)[1] for s in line)  # the values, never an operand
