"""Fast checks of serve/'s pure parts: puzzle parsing, the reasoning split and the verdict
line, the server command and its CPU defaults, and the modules' doctests (pytest's
--doctest-modules only walks `tests` and `tasks`)."""

from __future__ import annotations

import doctest
import json
import importlib

import pytest

from serve.client import Answer, judge, split_reasoning
from tasks.countdown.think_split import join_reasoning
from serve.demo import BAD_COLOUR, OK_COLOUR, verdict_html
from serve.puzzle import PuzzleError, PuzzleSource, parse_puzzle
from tasks.countdown.verifier import verify


@pytest.mark.parametrize("mod", ["serve.client", "serve.puzzle", "serve.served_name", "tasks.countdown.think_split"])
def test_doctests(mod):
    res = doctest.testmod(importlib.import_module(mod))
    assert res.attempted > 0 and res.failed == 0


@pytest.mark.parametrize("numbers,target,msg", [
    ("19, abc, 5", "65", "whole numbers"),
    ("1 2 3 4 5 6 7", "10", "too many numbers: 7"),
    ("", "10", "enter the numbers"),
    ("5", "10", "at least 2"),
    ("1, 2", "ten", "target must be a whole number"),
    ("1, 2", "", "enter the target"),
    ("1, 2.5", "3", "whole numbers"),
    ("1, 99999999", "3", "between 0 and"),
])
def test_bad_puzzles_get_one_clear_message(numbers, target, msg):
    with pytest.raises(PuzzleError, match=msg):
        parse_puzzle(numbers, target)


def test_random_puzzles_come_from_the_test_split(tmp_path):
    (tmp_path / "test.jsonl").write_text('{"nums":[1,2,3],"target":6}\n')
    assert PuzzleSource(str(tmp_path)).draw() == ([1, 2, 3], 6)
    numbers, target = PuzzleSource(None, seed=0).draw()  # no split: the synthetic test tasks
    assert 3 <= len(numbers) <= 4 and 10 <= target <= 100


def test_split_and_rebuild_round_trip():
    text = "19+36=55 </think> <answer>55+36-7-19</answer>"
    reasoning, content = split_reasoning(text)
    # Whitespace between </think> and the answer is not content; nothing else is lost.
    assert join_reasoning(reasoning, content) == text.replace("</think> ", "</think>")
    # Without a server-side parser the whole reply arrives as content; judged the same.
    assert judge(None, text, [19, 36, 55, 7], 65) == verify(text, [19, 36, 55, 7], 65)
    assert judge(reasoning, content, [19, 36, 55, 7], 65).ok


def test_verdict_shows_a_coloured_mark_then_value_and_reason():
    ok = Answer("r", "<answer>55+36-7-19</answer>", verify("<answer>55+36-7-19</answer>", [19, 36, 55, 7], 65))
    page = verdict_html(ok, [19, 36, 55, 7], 65)
    assert "✓ correct" in page and OK_COLOUR in page and "value: 65" in page
    assert page.index("✓ correct") < page.index("reason: ok")  # the mark first, the details below
    bad = Answer("r", "<answer>55+36</answer>", verify("<answer>55+36</answer>", [19, 36, 55, 7], 65), "length")
    page = verdict_html(bad, [19, 36, 55, 7], 65)
    assert "✗ incorrect" in page and BAD_COLOUR in page and "reason: wrong_numbers" in page and "max_tokens" in page
    hostile = Answer("<script>", "<answer><img src=x onerror=alert(1)></answer>",
                     verify("<answer><img src=x onerror=alert(1)></answer>", [1, 2], 3))
    assert "<img" not in verdict_html(hostile, [1, 2], 3)  # model text is escaped


def test_chat_messages_recognised_as_puzzles():
    from serve.puzzle import puzzle_in_message
    from tasks.countdown.prompt import user_message

    assert puzzle_in_message(user_message([19, 36, 55, 7], 65)) == ([19, 36, 55, 7], 65)
    assert puzzle_in_message("numbers: 3, 4, 5 - make 23") == ([3, 4, 5], 23)
    assert puzzle_in_message("what is 2+2?") is None


def test_server_command_cpu_defaults(tmp_path):
    from serve.server import ServerConfig

    cfg = ServerConfig(tmp_path, "m", port=8123, api_key="k", extra_args=("--max-num-seqs", "8"))
    cmd, env = cfg.command(cpu=True), cfg.env(cpu=True)
    assert cmd[cmd.index("--dtype") + 1] == "float32"
    assert cmd[cmd.index("--gpu-memory-utilization") + 1] == "0.3"
    assert cmd[cmd.index("--reasoning-parser") + 1] == "mini_r1"
    assert cmd[cmd.index("--reasoning-parser-plugin") + 1].endswith("serve/reasoning_parser.py")
    assert json.loads(cmd[cmd.index("--override-generation-config") + 1])["temperature"] == 0.0
    assert cmd[-2:] == ["--max-num-seqs", "8"]
    assert "k" not in cmd and env["VLLM_API_KEY"] == "k"  # the key stays out of `ps`
    assert env["VLLM_CPU_KVCACHE_SPACE"] and env["VLLM_CACHE_ROOT"]
    gpu = cfg.command(cpu=False)
    assert "--gpu-memory-utilization" not in gpu and "--dtype" not in gpu


def test_served_name_defaults():
    from serve.served_name import served_name

    assert served_name("/x/runs/tiny-r1-countdown/final") == "tiny-r1-countdown"
    assert served_name("/models/Qwen2.5-1.5B-Instruct") == "Qwen2.5-1.5B-Instruct"


def test_a_countdown_request_continues_the_prefill_into_the_training_prompt(tiny_model_dir):
    """What the server renders from the demo's request (its messages and flags, through the served
    chat template) is the training prompt to the character, ending inside the think block."""
    from transformers import AutoTokenizer

    from serve.chat_template import served_chat_template
    from serve.client import countdown_request
    from tasks.countdown.prompt import ASSISTANT_PREFILL, render_prompt

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    req = countdown_request("m", [19, 36, 55, 7], 65, max_tokens=8)
    flags = req["extra_body"]
    assert flags["continue_final_message"] is True and flags["add_generation_prompt"] is False
    rendered = tok.apply_chat_template(req["messages"], chat_template=served_chat_template(tok.chat_template),
                                       tokenize=False, **flags)
    assert rendered == render_prompt(tok, [19, 36, 55, 7], 65)
    assert rendered.endswith(ASSISTANT_PREFILL) and rendered.count(ASSISTANT_PREFILL) == 1
    assert req["temperature"] == 0.0
