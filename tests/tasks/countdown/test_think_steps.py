"""tasks/countdown/think_steps.py: a think block's `a op b = c` steps checked exactly, operands on hand,
and the opt-in `steps` reward built on it."""

from __future__ import annotations

import time
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.countdown.rewards import REWARD_FUNCS, steps_reward
from tasks.countdown.solver import solve
from tasks.countdown.think_steps import check_steps, think_of


def test_solver_traces_are_all_right():
    for nums, target in [([19, 36, 55, 7], 65), ([2, 3, 4], 10), ([44, 19, 35], 98), ([6, 4, 3, 2], 1)]:
        sol = solve(nums, target)
        assert sol is not None
        assert check_steps(" ".join(sol.steps), nums) == (len(sol.steps), len(sol.steps))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 99), min_size=3, max_size=4), st.integers(1, 100))
def test_every_solver_trace_is_right(nums, target):
    sol = solve(nums, target)
    if sol is not None:
        assert check_steps(" ".join(sol.steps), nums) == (len(sol.steps), len(sol.steps)), sol.steps


def test_operands_must_be_on_hand_each_once():
    assert check_steps("1+2=3 3+3=6", [1, 2, 3]) == (2, 2)  # the 3 made and the 3 given
    assert check_steps("1+2=3 3+3=6", [1, 2]) == (1, 2)  # one 3 only
    assert check_steps("5+5=10", [5, 7]) == (0, 1)
    assert check_steps("7-9=-2 -2+9=7", [7, 9, 9]) == (1, 1)  # "-2+9" is not a step: its first operand is signed


def test_exact_division_and_wrong_values():
    assert check_steps("8/2=4 4*3=12", [8, 2, 3]) == (2, 2)
    assert check_steps("7/2=3", [7, 2]) == (0, 1)  # 3.5, not 3
    assert check_steps("7/0=0", [7, 0]) == (0, 1)
    assert check_steps("(1/0)+1=2 1+1=2/0 7/2=(1/0)", [1, 1, 7, 2]) == (0, 2)  # zero denominators: wrong, no error
    assert check_steps("7/2=7/2 (7/2)*2=7", [7, 2, 2]) == (2, 2)
    assert check_steps("83-51=11 59+59=91", [51, 83, 59]) == (0, 2)


def test_only_the_think_block_counts():
    assert think_of("1+2=3</think>\n<answer>1+2</answer> 4+4=8") == "1+2=3"
    assert steps_reward(["1+2=3</think>\n<answer>1+2</answer> 4+4=8"], nums=[[1, 2, 4, 4]]) == [1.0]


def test_reward_is_the_share_of_right_steps():
    done = "</think>\n<answer>x</answer>"
    out = steps_reward(["1+2=3 3+4=8" + done, "no arithmetic" + done, [{"role": "assistant", "content": "2*2=4" + done}]],
                       nums=[[1, 2, 4], [1], [2, 2]])
    assert out == [0.5, 0.0, 1.0]
    assert REWARD_FUNCS["steps"] is steps_reward


def test_hostile_think_blocks_are_cheap_and_never_run():
    nums = [1, 2, 3]
    start = time.perf_counter()
    assert check_steps("9" * 1_000_000, nums) == (0, 0)
    assert check_steps("1+1=2 " * 200_000, nums)[0] == 0  # only ~4 KB is read; no 1 is on hand twice
    assert check_steps("__import__('os').system('x')=0 1+2=3", nums) == (1, 1)
    assert check_steps("1234567+1=1234568", nums) == (0, 0)  # over 6 digits is not a step
    assert time.perf_counter() - start < 2.0


@given(st.integers(0, 999), st.sampled_from("+-*/"), st.integers(0, 999))
def test_a_true_step_on_hand_is_right_and_a_false_one_is_not(a, op, b):
    value = {"+": Fraction(a + b), "-": Fraction(a - b), "*": Fraction(a * b),
             "/": Fraction(a, b) if b else None}[op]
    if value is None or value.denominator != 1 or abs(value) >= 10**6:
        return
    v = int(value)
    assert check_steps(f"{a}{op}{b}={v}", [a, b]) == (1, 1)
    assert check_steps(f"{a} {op} {b} = {v + 1}", [a, b]) == (0, 1)
