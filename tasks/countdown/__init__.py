"""The Countdown task: data, prompt, verifier, TRL rewards, solver and the lm-eval task.

Importing this package is cheap (no torch, no sympy, no datasets): `cli.py verify` and the
reward functions start instantly.
"""

from .prompt import ASSISTANT_PREFILL, SYSTEM_PROMPT, build_messages, render_prompt, user_message
from .rewards import REWARD_FUNCS, equation_reward, format_reward
from .solver import Solution, is_solvable, solve
from .verifier import REASONS, Verdict, extract_answer, verify, verify_equation

__all__ = [
    "ASSISTANT_PREFILL",
    "SYSTEM_PROMPT",
    "build_messages",
    "render_prompt",
    "user_message",
    "REWARD_FUNCS",
    "equation_reward",
    "format_reward",
    "Solution",
    "is_solvable",
    "solve",
    "REASONS",
    "Verdict",
    "extract_answer",
    "verify",
    "verify_equation",
]
