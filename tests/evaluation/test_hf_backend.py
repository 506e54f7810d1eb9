"""`cli.py evaluate` on the hf backend, for real: a run whose model (the taught tiny model) and
baseline (the random-weight one) score differently on a split that is not the default test tasks,
so the table, the difference and the split are each checked against what they must be; the same
numbers (and completions) as the plain `lm_eval` CLI; and sampling for pass@k.

    .venv/bin/python -m pytest -q tests/evaluation/test_hf_backend.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOKS = 48  # enough for the taught model's answers (conftest.taught_model_dir); the baseline stops at once


@pytest.fixture(scope="module")
def evaluated_run(taught_run, tmp_path_factory):
    """`cli.py evaluate --model RUN` once: the run's final model vs its baseline, its own split."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "evaluate", "--model", str(taught_run), "--max-gen-toks", str(TOKS)],
        cwd=tmp_path_factory.mktemp("cwd"), capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return taught_run / "eval", proc.stdout


@pytest.mark.slow
def test_evaluate_writes_the_reports(evaluated_run, taught_split):
    from tasks.countdown.data import load_split
    from tasks.countdown.verifier import verify

    out, stdout = evaluated_run
    split = load_split(taught_split)
    n = len(split)
    summary = json.loads((out / "summary.json").read_text())
    model, base = summary["model"], summary["baseline"]
    # the run's own split, every task of it, in order (not the default test tasks, which the
    # taught model cannot solve)
    assert model["test_split"] == base["test_split"] == str(taught_split)
    rows = [json.loads(x) for x in (out / "model/samples.jsonl").read_text().splitlines()]
    assert [(r["nums"], r["target"]) for r in rows] == [(t["nums"], t["target"]) for t in split]
    assert all(r["ok"] == verify(r["completion"], r["nums"], r["target"]).ok for r in rows)
    assert model["correct"] == sum(r["ok"] for r in rows) >= n // 2  # the taught model solves most greedily
    assert base["correct"] == 0 and base["total"] == model["total"] == n
    assert f"| tiny-r1-countdown (final) | {model['correct']}/{n} |" in stdout
    assert f"| baseline: sft | 0/{n} |" in stdout
    # the difference is model minus baseline, not the other way round
    assert f"difference: +{model['correct']} tasks" in stdout
    assert summary["difference"]["correct"] == model["correct"] > 0
    assert "verdict reason" in stdout
    for f in ("report.md", "accuracy.png", "model/results.json", "model/samples.jsonl",
              "baseline/results.json", "baseline/samples.jsonl"):
        assert (out / f).is_file(), f
    assert {"prompt", "completion", "answer", "reason", "ok"} <= rows[0].keys()
    assert rows[0]["prompt"].endswith("Let me solve this step by step.\n<think>")
    assert sum(b["total"] for b in model["by_numbers"].values()) == n
    assert sum(b["correct"] for b in model["by_numbers"].values()) == model["correct"]
    for key in ("by_operators", "by_solutions"):  # the solver's difficulty covers every task once
        assert sum(b["total"] for b in model[key].values()) == n
        assert sum(b["correct"] for b in model[key].values()) == model["correct"]
    assert "| tiny-r1-countdown (final) − baseline: sft |" in stdout  # the change against the baseline
    acc = json.loads((out / "model/results.json").read_text())["results"]["countdown"]["acc,none"]
    assert acc == pytest.approx(model["correct"] / n)
    # sympy re-evaluated every equation the verifier gave a value for (each correct one at least)
    assert model["sympy_agreement"] == 1.0 and model["sympy_checked"] >= model["correct"]
    assert f"sympy re-evaluated {model['sympy_checked']} of tiny-r1-countdown (final)'s equations" in (
        out / "report.md").read_text()
    assert not list(out.parent.glob(".eval.partial-*"))  # the staging folder is gone
    card = (out.parent / "README.md").read_text()  # the run's card now shows the table just scored
    assert f"| tiny-r1-countdown (final) | {model['correct']}/{n} |" in card
    assert f"difference: +{model['correct']} tasks" in card and str(taught_split) in card
    assert (out.parent / "final" / "README.md").read_text() == card


@pytest.mark.slow
def test_same_numbers_as_plain_lm_eval_cli(evaluated_run, taught_run, taught_split, tmp_path):
    from tasks.countdown.lm_eval_hooks import close_answer

    out, _ = evaluated_run
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("lm_eval")), "--model", "hf",
         "--model_args", f"pretrained={taught_run / 'final'}", "--device", "cpu", "--batch_size", "16",
         "--include_path", str(ROOT / "tasks"), "--tasks", "countdown", "--apply_chat_template",
         "--metadata", json.dumps({"test_file": str(taught_split)}),
         "--gen_kwargs", f"max_gen_toks={TOKS}", "--output_path", str(tmp_path), "--log_samples"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    plain = json.loads(next(tmp_path.rglob("results_*.json")).read_text())["results"]["countdown"]
    ours = json.loads((out / "model/results.json").read_text())["results"]["countdown"]
    assert plain["acc,none"] > 0  # a model that solves some: equal numbers then mean the same tasks
    assert plain["sympy_agree,none"] == 1.0  # the agreement metric comes with the task, not with cli.py
    for key in ("acc,none", "acc_stderr,none", "format_rate,none", "pass_at_k,none", "maj_at_k,none"):
        assert plain[key] == ours[key], key
    plain_samples = sorted((json.loads(x) for x in next(tmp_path.rglob("samples_*.jsonl")).read_text().splitlines()),
                           key=lambda s: s["doc_id"])
    rows = [json.loads(x) for x in (out / "model/samples.jsonl").read_text().splitlines()]
    assert [s["arguments"]["gen_args_0"]["arg_0"] for s in plain_samples] == [r["prompt"] for r in rows]
    # the log keeps the answer block closed (lm-eval stops *at* "</answer>" and drops it)
    assert [close_answer(s["filtered_resps"][0][0]) for s in plain_samples] == [r["completion"] for r in rows]


@pytest.mark.slow
def test_sampling_reports_pass_at_k(taught_model_dir, countdown_data_dir, tmp_path):
    """On tasks the model solves some of the time (the taught ones, sampled at temperature 1.5),
    pass@4 and maj@4 are the share of tasks with any / a majority of correct samples, per row and
    over the split, above the accuracy of the first sample alone."""
    from evaluation.runner import evaluate_model
    from tasks.countdown.data import load_split
    from tasks.countdown.lm_eval_hooks import majority_ok
    from tests.conftest import TAUGHT_ROWS

    split = tmp_path / "taught.jsonl"
    split.write_text("".join(json.dumps(r) + "\n" for r in load_split(countdown_data_dir, "train")[TAUGHT_ROWS]))
    s = evaluate_model(str(taught_model_dir), test_file=str(split), out_dir=str(tmp_path / "e"), num_samples=4,
                       temperature=1.5, max_gen_toks=48)
    assert s["num_samples"] == 4 and s["temperature"] == 1.5 and s["total"] == 8
    rows = [json.loads(x) for x in (tmp_path / "e/samples.jsonl").read_text().splitlines()]
    assert all(len(r["samples"]) == 4 for r in rows)
    for r in rows:
        assert r["pass_at_k"] == int(any(x["ok"] for x in r["samples"]))
        assert r["maj_at_k"] == int(majority_ok(r["samples"]))
        assert r["acc"] == int(r["samples"][0]["ok"])
    assert s["pass_at_k"] == pytest.approx(sum(r["pass_at_k"] for r in rows) / 8)
    assert s["maj_at_k"] == pytest.approx(sum(r["maj_at_k"] for r in rows) / 8)
    hits = sum(x["ok"] for r in rows for x in r["samples"])
    assert 0 < hits < 32, "the split must have both solved and unsolved samples for this test to mean anything"
    assert s["accuracy"] == pytest.approx(sum(r["acc"] for r in rows) / 8)
    assert s["pass_at_k"] > s["accuracy"] or s["pass_at_k"] == 1.0


@pytest.mark.slow
def test_the_run_readers_read_what_evaluate_wrote(evaluated_run, taught_run, tmp_path):
    """common/run_results.py (what the model card and the demo's Run tab read) on a run `cli.py evaluate`
    really scored; and tests/scored_run.py, the fast tests' run, writes files of the same shape."""
    from common.run_results import breakdowns_text, evaluation, paired_line, results_lines, sample_buckets, samples
    from tests.scored_run import build_scored_run

    ev = evaluation(taught_run)
    model = ev["model"]
    text = "\n".join(results_lines(taught_run))
    assert f"| {model['label']} | {model['correct']}/{model['total']} |" in text and paired_line(ev) in text
    assert "| verdict reason |" in breakdowns_text(taught_run)
    rows = samples(taught_run)
    assert sum(r["ok"] for r in rows) == model["correct"]
    assert all(len(sample_buckets(r)) == 4 for r in rows)  # number count, difficulty, both: kept in samples.jsonl
    fake = build_scored_run(tmp_path)
    for name in ("summary.json", "model/summary.json", "baseline/summary.json"):
        real, made = (json.loads((run / "eval" / name).read_text()) for run in (taught_run, fake))
        assert _shape(made) == _shape(real), name
    assert {k for r in rows for k in r} == {k for r in samples(fake) for k in r}


def _shape(obj):
    """A summary's keys, nested (a breakdown's buckets aside: each split has its own)."""
    if not isinstance(obj, dict):
        return None
    return {k: None if k.startswith("by_") else _shape(v) for k, v in obj.items()}
