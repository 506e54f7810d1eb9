"""The api backend for real: the session's vLLM OpenAI-compatible server (`served`, tests/served.py:
`cli.py serve` on the taught tiny model, which writes the trained format, so there is a think block
for the parser to split off; loopback only, a free port, an API key), evaluated through lm-eval's
chat-completions model.

    .venv/bin/python -m pytest -q tests/evaluation/test_api_backend.py
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from click.testing import CliRunner


@pytest.mark.slow
def test_server_continues_the_prefill(served, taught_model_dir):
    """What the api model relies on: with continue_final_message the server renders exactly the
    project's prompt (ending inside the assistant's prefill)."""
    from transformers import AutoTokenizer

    from tasks.countdown.prompt import build_messages, render_prompt

    body = {"model": served.model, "messages": build_messages([19, 36, 55, 7], 65),
            "add_generation_prompt": False, "continue_final_message": True}
    req = urllib.request.Request(served.base_url + "/tokenize", json.dumps(body).encode(),
                                 {"Content-Type": "application/json", "Authorization": f"Bearer {served.api_key}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        tokens = json.loads(resp.read())["tokens"]
    tok = AutoTokenizer.from_pretrained(taught_model_dir)
    assert tokens == tok(render_prompt(tok, [19, 36, 55, 7], 65), add_special_tokens=False)["input_ids"]


@pytest.mark.slow
def test_api_backend_evaluates_the_served_model(served, small_split, tmp_path):
    import cli

    out = tmp_path / "eval"
    result = CliRunner().invoke(cli.main, [
        "evaluate", "--backend", "api", "--base-url", served.base_url, "--api-key", served.api_key,
        "--test-file", str(small_split),
        "--limit", "4", "--max-gen-toks", "8", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"| {served.model} | 0/4 |" in result.output
    summary = json.loads((out / "summary.json").read_text())["model"]
    assert summary["backend"] == "api" and summary["total"] == 4 and summary["model"] == served.model
    rows = [json.loads(x) for x in (out / "model/samples.jsonl").read_text().splitlines()]
    # The reasoning parser puts an unfinished think block in `reasoning`; it must come back as the completion.
    assert all(r["completion"] for r in rows)
    messages = json.loads(rows[0]["prompt"])  # what was sent: the project's messages, ending in the prefill
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert messages[-1]["content"] == "Let me solve this step by step.\n<think>"


@pytest.mark.slow
def test_api_backend_wrong_key_is_one_clear_error(served, small_split, tmp_path):
    import cli

    result = CliRunner().invoke(cli.main, [
        "evaluate", "--backend", "api", "--base-url", served.base_url, "--api-key", "wrong",
        "--test-file", str(small_split),
        "--limit", "2", "--out", str(tmp_path / "eval")])
    assert result.exit_code == 1 and "HTTP 401" in result.output and "--api-key" in result.output
    assert not (tmp_path / "eval").exists()


@pytest.mark.slow
def test_served_model_scores_as_the_checkpoint_does(served, taught_model_dir, taught_split, tmp_path):
    """The reference's table from anywhere: `--backend api` on the served checkpoint gives the same
    verdicts, task by task, as `--backend hf` on the checkpoint itself (both float32 here, greedy;
    the served completion is the reasoning the parser split off joined back to the content, and
    lm-eval drops the stop string on both paths). On a split the model partly solves, so equal
    counts mean the same tasks solved, not two zeros."""
    from evaluation.runner import evaluate_model

    hf = evaluate_model(str(taught_model_dir), test_file=str(taught_split), backend="hf", max_gen_toks=48,
                        out_dir=str(tmp_path / "hf"))
    api = evaluate_model(served.model, test_file=str(taught_split), backend="api", base_url=served.base_url,
                         api_key=served.api_key,
                         max_gen_toks=48, out_dir=str(tmp_path / "api"))
    assert hf["correct"] > 0 and hf["total"] == api["total"] == 8
    rows = {name: [json.loads(x) for x in (tmp_path / name / "samples.jsonl").read_text().splitlines()]
            for name in ("hf", "api")}
    assert [r["ok"] for r in rows["api"]] == [r["ok"] for r in rows["hf"]]
    assert [r["answer"] for r in rows["api"]] == [r["answer"] for r in rows["hf"]]
    assert (api["correct"], api["accuracy"], api["format_rate"]) == (hf["correct"], hf["accuracy"], hf["format_rate"])
