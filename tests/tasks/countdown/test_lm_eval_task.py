"""The lm-eval `countdown` task: its prompt is the project's prompt, its metric is `verify`,
its test split resolves as documented, and the plain lm_eval CLI runs it on the tiny model.

    .venv/bin/python -m pytest -q tests/tasks/countdown/test_lm_eval_task.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.countdown import lm_eval_hooks as hooks
from tasks.countdown.data import DataError, default_test_tasks, write_jsonl
from tasks.countdown.solver import solve

ROOT = Path(__file__).resolve().parents[3]
TASKS = ROOT / "tasks"
LM_EVAL = Path(sys.executable).with_name("lm_eval")
DOC = {"nums": [19, 36, 55, 7], "target": 65}


def load_task(metadata=None):
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_path=str(TASKS), include_defaults=False, metadata=metadata or {})
    return tm.load(["countdown"])["tasks"]["countdown"]


# ---- scoring: the hooks with known-good and known-bad completions ----------------------------

@pytest.mark.parametrize(
    ("completion", "acc", "fmt"),
    [
        (" 55+36=91 91-26=65</think>\n<answer>55+36-7-19</answer>", 1, 1),
        (" 55+36=91 91-26=65</think>\n<answer>55+36-7-19", 1, 1),  # stop string cut by the backend
        ("x</think><answer>55+36-7-19 = 65</answer>", 1, 1),  # "lhs = target" is accepted by verify
        ("no think end <answer>55+36-7-19</answer>", 1, 0),  # right answer, wrong format
        ("x</think><answer>55+36-7-18</answer>", 0, 1),  # wrong numbers
        ("x</think><answer>__import__('os').system('id')</answer>", 0, 1),
        ("x</think>\n<answer>55+36-7-19</answer><answer>1</answer>", 0, 0),  # the last answer counts
        ("", 0, 0),
        ("x</think><answer>(55+36-7-19</answer>", 0, 1),
    ],
)
def test_process_results_is_verify(completion, acc, fmt):
    out = hooks.process_results(DOC, [completion])
    assert out["acc"] == acc and out["format_rate"] == fmt
    assert out["pass_at_k"] == out["maj_at_k"] == acc  # one sample: both equal acc


def test_repeated_samples_pass_at_k_and_majority():
    good, bad = "x</think><answer>55+36-7-19</answer>", "x</think><answer>55+36+7+19</answer>"
    assert hooks.process_results(DOC, [[bad, good, bad]]) == {"acc": 0, "format_rate": 1, "pass_at_k": 1, "maj_at_k": 0,
                                                              "sympy_agree": (3, 3)}
    assert hooks.process_results(DOC, [[bad, good, " x</think><answer>55 + 36 - 7 - 19</answer>"]])["maj_at_k"] == 1
    assert hooks.process_results(DOC, [["", "junk"]]) == {"acc": 0, "format_rate": 0, "pass_at_k": 0, "maj_at_k": 0,
                                                          "sympy_agree": (0, 0)}


def test_close_answer_only_closes_an_open_block():
    assert hooks.close_answer("<answer>1+2") == "<answer>1+2</answer>"
    assert hooks.close_answer("<answer>1</answer>") == "<answer>1</answer>"
    assert hooks.close_answer("no answer") == "no answer"
    assert hooks.close_answer("<answer>1</answer> <answer>2") == "<answer>1</answer> <answer>2</answer>"


# ---- the test split ------------------------------------------------------------------------

def test_split_resolution_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(hooks.TEST_FILE_ENV, raising=False)
    rows, source = hooks.load_rows()
    assert rows == default_test_tasks() and len(rows) == 500 and source.startswith("synthetic")

    (tmp_path / "data/countdown").mkdir(parents=True)
    write_jsonl([{"nums": [1, 2, 3], "target": 6}], tmp_path / "data/countdown/test.jsonl")
    assert hooks.load_rows()[0] == [{"nums": [1, 2, 3], "target": 6}]

    env_file = tmp_path / "env.jsonl"
    write_jsonl([{"nums": [2, 2, 2], "target": 8}] * 2, env_file)
    monkeypatch.setenv(hooks.TEST_FILE_ENV, str(env_file))
    assert len(hooks.load_rows()[0]) == 2

    meta_file = tmp_path / "meta.jsonl"
    write_jsonl([{"nums": [5, 5, 5, 5], "target": 20}] * 3, meta_file)
    assert len(hooks.load_rows(str(meta_file))[0]) == 3  # metadata beats the environment


@pytest.mark.parametrize("content", ["", "not json\n", '{"nums": [1, 2]}\n', '{"nums": "x", "target": 3}\n'])
def test_bad_split_raises_data_error(tmp_path, content):
    bad = tmp_path / "test.jsonl"
    bad.write_text(content)
    with pytest.raises(DataError):
        hooks.load_rows(str(bad))


def test_task_reads_metadata_test_file(tmp_path):
    split = tmp_path / "test.jsonl"
    write_jsonl([{"nums": [1, 2, 3], "target": 6}, {"nums": [4, 5, 6, 7], "target": 9}], split)
    task = load_task({"test_file": str(split)})
    docs = list(task.test_docs())
    assert [(d["nums"], d["target"], d["n_numbers"]) for d in docs] == [([1, 2, 3], 6, 3), ([4, 5, 6, 7], 9, 4)]


# ---- the prompt: exactly the project's, through lm-eval's real chat-template path ------------

def test_rendered_prompt_equals_render_prompt(tiny_model_dir, tmp_path):
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoTokenizer

    from tasks.countdown.prompt import render_prompt

    rows = [{"nums": [19, 36, 55, 7], "target": 65}, {"nums": [3, 8, 80], "target": 33}]
    split = tmp_path / "test.jsonl"
    write_jsonl(rows, split)
    task = load_task({"test_file": str(split)})
    lm = HFLM(pretrained=str(tiny_model_dir), device="cpu")
    task.build_all_requests(limit=2, apply_chat_template=True, chat_template=lm.apply_chat_template)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    contexts = [inst.args[0] for inst in task.instances]
    assert contexts == [render_prompt(tok, r["nums"], r["target"]) for r in rows]
    assert all(c.endswith("Let me solve this step by step.\n<think>") for c in contexts)
    gen = task.instances[0].args[1]
    assert gen["until"] == ["</answer>"] and gen["do_sample"] is False and gen["max_gen_toks"] == 1024


# ---- a known model through lm-eval's whole pipeline: correct answers are counted -------------

def test_solver_model_scores_exactly_half(tmp_path):
    """A stand-in LM (not a mock of anything unavailable: a test double whose answers we know)
    that solves every even-numbered task and botches every odd one: lm-eval must report 50%."""
    from lm_eval import simple_evaluate
    from lm_eval.api.model import LM
    from lm_eval.tasks import TaskManager

    prompt_re = re.compile(r"Using the numbers \[([\d, ]+)\], create an equation that equals (\d+)")

    class SolverLM(LM):
        def generate_until(self, requests, disable_tqdm=False):
            out = []
            for req in requests:
                m = prompt_re.search(req.args[0])
                nums, target = [int(x) for x in m.group(1).split(",")], int(m.group(2))
                expr = solve(nums, target).expression
                if req.doc["id"] % 2:
                    expr += "+1"
                out.append(f" trying {expr}</think>\n<answer>{expr}")  # stop string cut, as backends do
            return out

        def loglikelihood(self, requests):
            raise NotImplementedError

        def loglikelihood_rolling(self, requests):
            raise NotImplementedError

    tm = TaskManager(include_path=str(TASKS), include_defaults=False, metadata={"test_file": None})
    res = simple_evaluate(model=SolverLM(), tasks=["countdown"], task_manager=tm, limit=20)
    r = res["results"]["countdown"]
    assert r["acc,none"] == 0.5 and r["format_rate,none"] == 1.0
    assert r["acc_stderr,none"] > 0


# ---- the plain lm_eval CLI on the tiny model ---------------------------------------------------

@pytest.mark.slow
def test_plain_lm_eval_cli_runs_on_tiny_model(tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, **{hooks.TEST_FILE_ENV: ""})
    proc = subprocess.run(
        [str(LM_EVAL), "--model", "hf", "--model_args", f"pretrained={tiny_model_dir}", "--device", "cpu",
         "--include_path", str(TASKS), "--tasks", "countdown", "--apply_chat_template",
         "--limit", "3", "--gen_kwargs", "max_gen_toks=8", "--output_path", str(out), "--log_samples"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]["countdown"]
    assert results["acc,none"] == 0.0  # random weights: nothing is solved
    assert {"format_rate,none", "pass_at_k,none", "maj_at_k,none"} <= results.keys()
    samples = [json.loads(x) for x in next(out.rglob("samples_countdown_*.jsonl")).read_text().splitlines()]
    assert [s["doc"]["nums"] for s in samples] == [t["nums"] for t in default_test_tasks()[:3]]
    assert all(s["arguments"]["gen_args_0"]["arg_0"].endswith("<think>") for s in samples)
