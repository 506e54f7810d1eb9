"""The README's plain lm-eval line, read from the README and run as written (with `--limit 1` for
the optional `[--limit 20]`) on the project's tiny model.

It failed before: the tiny model's context (1024) equalled the task's 1024-token budget, and
lm-eval's hf model refuses a budget that is not below the context (`AssertionError: requested max
tokens to generate (1024) must be less than model's maximum sequence length (1024)`)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def readme_lm_eval_line() -> list[str]:
    """The `lm_eval ...` command of the README's plain lm-eval section, optional parts dropped."""
    block = re.search(r"```bash\n(lm_eval --model hf .*?)\n```", (ROOT / "README.md").read_text(), re.S)
    assert block, "the README has no plain lm_eval block"
    line = re.sub(r"\s*\[[^\]]*\]", "", block.group(1).replace("\\\n", " "))
    return shlex.split(line)


def test_the_line_is_what_the_task_needs():
    argv = readme_lm_eval_line()
    assert argv[:3] == ["lm_eval", "--model", "hf"]
    assert {"--apply_chat_template", "--include_path", "--tasks"} <= set(argv)
    assert argv[argv.index("--tasks") + 1] == "countdown" and argv[argv.index("--include_path") + 1] == "tasks"


@pytest.mark.slow  # one 1024-token greedy generation on CPU: ~40 s
def test_readme_line_runs_on_the_tiny_model(tiny_model_dir, tmp_path):
    argv = [a.replace("PATH", str(tiny_model_dir)) for a in readme_lm_eval_line()]
    argv[0] = str(Path(sys.executable).with_name("lm_eval"))
    r = subprocess.run(argv + ["--limit", "1", "--output_path", str(tmp_path)], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert re.search(r"\|countdown\|.*\|acc\s*\|", r.stdout), r.stdout[-2000:]
    assert "sympy_agree" in r.stdout
