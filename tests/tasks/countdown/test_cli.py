"""`cli.py verify`: three input modes, one JSON line, exit codes 0/1/2, and a fast start without torch.

    .venv/bin/python -m pytest -q tests/tasks/countdown/test_cli.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from tasks.countdown.cli import verify as verify_cmd
from tests.conftest import ROOT

TASK = ["--numbers", "19,36,55,7", "--target", "65"]


def invoke(args, stdin=None):
    return CliRunner().invoke(verify_cmd, args, input=stdin)


def one_json_line(output):
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return json.loads(lines[0])


@pytest.mark.parametrize(
    "args,stdin,code,reason",
    [
        (["--equation", "55+36-7-19"], None, 0, "ok"),
        (["--equation", "55+36-7-19 = 65"], None, 0, "ok"),
        (["--equation", "55+36-7"], None, 1, "wrong_numbers"),
        (["--equation", "__import__('os').system('id')"], None, 1, "disallowed"),
        (["--equation", ""], None, 1, "empty"),
        (["--completion", "<think>55+36=91</think><answer>55+36-7-19</answer>"], None, 0, "ok"),
        (["--completion", "<answer>55+36-7-19</answer><answer>55-36</answer>"], None, 1, "wrong_numbers"),
        (["--completion", "no tags at all"], None, 1, "no_answer"),
        ([], "<think>x</think>\n<answer>(55 + 36) - (7 + 19)</answer>\n", 0, "ok"),
        ([], "<answer>7/(19-19)</answer>", 1, "division_by_zero"),
        ([], "", 1, "no_answer"),
        ([], "<answer>55+36-7-19</answer>" + "x" * (2 << 20), 0, "ok"),  # stdin read is capped at 1 MiB
    ],
)
def test_verify_modes(args, stdin, code, reason):
    result = invoke(TASK + args, stdin)
    assert result.exit_code == code, result.output
    verdict = one_json_line(result.stdout)
    assert set(verdict) == {"ok", "reason", "value", "equation"}
    assert verdict["reason"] == reason and verdict["ok"] == (code == 0)
    if reason == "ok":
        assert verdict["value"] == "65"


def test_value_is_an_exact_string():
    verdict = one_json_line(invoke(["--numbers", "7,2", "--target", "3", "--equation", "7/2"]).stdout)
    assert verdict == {"ok": False, "reason": "wrong_value", "value": "7/2", "equation": "7/2"}


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--numbers", "a,b", "--target", "3", "--equation", "1+2"], "--numbers"),
        (["--numbers", "1.5,2", "--target", "3", "--equation", "1+2"], "comma-separated integers"),
        (["--numbers", ",,", "--target", "3", "--equation", "1+2"], "between 1 and 16"),
        (["--numbers", ",".join(["1"] * 17), "--target", "3", "--equation", "1+2"], "between 1 and 16"),
        (["--numbers", "1,2", "--target", "x", "--equation", "1+2"], "--target"),
        (["--target", "3", "--equation", "1+2"], "--numbers"),
        (["--numbers", "1,2", "--equation", "1+2"], "--target"),
        (TASK + ["--equation", "1", "--completion", "x"], "not both"),
        (TASK + ["--bogus"], "--bogus"),
    ],
)
def test_bad_arguments_exit_2_with_one_clear_line(args, needle):
    result = invoke(args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(error_lines) == 1 and needle in error_lines[0], result.stderr
    assert result.stdout == ""


def run_cli(*args, stdin=None, input_text=None):
    return subprocess.run([sys.executable, "cli.py", "verify", *args], cwd=ROOT, stdin=stdin, input=input_text,
                          capture_output=True, text=True, timeout=60)


def test_real_process_exit_codes_and_stdin():
    ok = run_cli(*TASK, "--equation", "55+36-7-19")
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True and ok.stderr == ""
    wrong = run_cli(*TASK, input_text="<answer>55+36+7+19</answer>")
    assert wrong.returncode == 1 and json.loads(wrong.stdout)["reason"] == "wrong_value"
    bad = run_cli("--numbers", "x", "--target", "1", "--equation", "1")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stdout == ""


def test_no_input_on_a_terminal_is_a_usage_error():
    """With a terminal on stdin (nothing piped) it must not sit waiting: usage error, exit 2."""
    leader, follower = os.openpty()
    try:
        proc = run_cli(*TASK, stdin=follower)
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 2
    assert "give --equation, --completion, or a completion on stdin" in proc.stderr


def test_verify_starts_fast_without_heavy_imports():
    code = (
        "import sys, time, runpy\n"
        "sys.argv = ['cli.py', 'verify', '--numbers', '19,36,55,7', '--target', '65', '--equation', '55+36-7-19']\n"
        "try:\n    runpy.run_path('cli.py', run_name='__main__')\n"
        "except SystemExit as e:\n    code = e.code\n"
        "heavy = sorted(m for m in ('torch', 'sympy', 'transformers', 'datasets', 'trl', 'vllm', 'numpy')"
        " if m in sys.modules)\n"
        "print('RESULT', code, heavy, time.process_time())\n"
    )
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    wall = time.monotonic() - t0
    result = proc.stdout.strip().splitlines()[-1].split(" ", 3)
    assert result[:3] == ["RESULT", "0", "[]"], proc.stdout + proc.stderr
    # CPU seconds of the whole process (interpreter start, cli.py, click, the task, the verdict):
    # CPU time, so other processes on a loaded machine do not count; typically ~0.15 s here.
    assert float(result[3]) < 1.0, result
    assert wall < 10, wall
