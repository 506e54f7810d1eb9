"""serve/run_tab.py without a browser: the Run tab's panels from a run written by the project's own
writers (tests/scored_run.py), the same numbers as the run's model card (both read them through
common/run_results.py), the sample filters and pages, model output escaped, what a run without
scores and a demo without a run say; and `cli.py demo` handing the tab its run.
The page itself, in Chromium: tests/serve/test_run_tab_browser.py.

    .venv/bin/python -m pytest -q tests/serve/test_run_tab.py
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from serve.run_tab import NEEDS_RUN_DIR, bucket_choices, run_view, samples_html
from tests.scored_run import HOSTILE, build_scored_run, samples_of


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr class="sample (right|wrong)">', page)


def test_the_card_and_the_tab_show_the_same_numbers(scored_run):
    """Issue 28, point 3: the table with its paired line, the breakdowns and the alarms are the card's
    lines, word for word; no number on the tab that the card does not have."""
    from evaluation.model_card import model_card

    card = model_card(scored_run)
    view = run_view(scored_run)
    for panel in ("run_table", "run_breakdowns", "run_alarms"):
        lines = [ln for ln in html.unescape(view[panel]).splitlines() if ln.strip()]
        assert lines, panel
        missing = [ln for ln in lines if ln not in card]
        assert not missing, (panel, missing)
    numbers = re.compile(r"\d+/\d+|[+-]?\d+\.\d+")
    tab_numbers = set(numbers.findall(html.unescape(view["run_table"] + view["run_breakdowns"])))
    assert tab_numbers and tab_numbers <= set(numbers.findall(card))
    assert "| tiny-r1-countdown (final) − baseline: sft |" in view["run_table"].replace("&gt;", ">")  # paired line


def test_the_panels_read_the_run(scored_run):
    view = run_view(scored_run)
    ev = json.loads((scored_run / "eval" / "summary.json").read_text())
    assert f"| tiny-r1-countdown (final) | {ev['model']['correct']}/16 |" in view["run_table"]
    assert "Alarm at step" in view["run_alarms"] and "format_without_answers" in view["run_alarms"]
    assert "from checkpoint-20 after 30 GRPO steps (validation accuracy 6.0%)" in view["run_header"]
    for panel, name in (("run_curves", "curves.png"), ("run_accuracy", "accuracy_vs_step.png")):
        assert view[panel].startswith(f'<img alt="{name}" src="data:image/png;base64,iVBORw0KGgo'), panel
    assert bucket_choices(scored_run) == ["all", "3 numbers", "4 numbers", "+/- only", "needs * or /",
                                          "1-2 solutions", "3+ solutions", "3 numbers, +/- only",
                                          "3 numbers, needs * or /", "4 numbers, +/- only", "4 numbers, needs * or /"]


def test_samples_filtered_by_verdict_and_difficulty(scored_run):
    rows = samples_of(scored_run)
    right = sum(r["ok"] for r in rows)
    assert _rows(samples_html(scored_run, "trained", "right")) == ["right"] * right
    assert _rows(samples_html(scored_run, "trained", "wrong")) == ["wrong"] * (len(rows) - right)
    four = [r for r in rows if r["n_numbers"] == 4]
    page = samples_html(scored_run, "trained", "all", "4 numbers")
    assert len(_rows(page)) == len(four) and f"{len(four)} of 16 test tasks (trained model · 4 numbers)" in page
    few = [r for r in rows if r["difficulty"]["solutions"] == "1-2 solutions" and not r["ok"]]
    assert len(_rows(samples_html(scored_run, "trained", "wrong", "1-2 solutions"))) == len(few)
    base = samples_of(scored_run, "baseline")
    assert _rows(samples_html(scored_run, "baseline", "right")) == ["right"] * sum(r["ok"] for r in base)


def test_pages(scored_run, monkeypatch):
    import serve.run_tab

    monkeypatch.setattr(serve.run_tab, "PAGE_SIZE", 6)
    pages = [samples_html(scored_run, page=n) for n in (1, 2, 3)]
    assert [len(_rows(p)) for p in pages] == [6, 6, 4]
    assert "page 3 of 3, tasks 13–16" in pages[2]
    assert samples_html(scored_run, page=99) == pages[2]  # past the end: the last page


def test_model_output_is_escaped(scored_run):
    page = samples_html(scored_run, "trained", "wrong")
    assert HOSTILE not in page and "<script" not in page and "<img" not in page
    assert html.escape(HOSTILE) in page  # shown as text, in the answer and the completion


def test_a_run_without_scores_says_what_it_needs(tmp_path):
    run = build_scored_run(tmp_path, end_of_run_table=False, evaluated=False, sweep=False)
    view = run_view(run)
    assert view["run_table"] == f"Not scored yet: `python cli.py evaluate --model {run}`."
    assert f"`python cli.py evaluate --model {run}`" in view["run_breakdowns"]
    assert "--checkpoints all" in view["run_accuracy"] and "<img" not in view["run_accuracy"]
    assert f"python cli.py evaluate --model {run}" in samples_html(run) and not _rows(samples_html(run))


def test_no_run_dir_says_how_to_name_one():
    assert run_view(None) == {"run_missing": html.escape(NEEDS_RUN_DIR, quote=False)}  # <name> is text, not a tag
    assert "--run-dir runs/<name>" in NEEDS_RUN_DIR


class _App:
    def queue(self, **kw):
        return self

    def launch(self, **kw):
        pass


@pytest.fixture
def demo_run_dir(monkeypatch):
    """`cli.py demo` up to the page, with the server, the client and Gradio replaced: the run it hands the tab."""
    import serve.cli
    import serve.demo

    got = {}

    class Server:
        base_url, log_path = "http://127.0.0.1:1", "vllm.log"

        def __init__(self, cfg, log_path=None):
            pass

        def start(self):
            pass

        def wait_healthy(self, timeout):
            pass

        def stop(self):
            pass

    def build_app(client, model, puzzles, cap, run_dir=None):
        got["run_dir"] = run_dir
        return _App()

    monkeypatch.setattr(serve.cli, "VLLMServer", Server)
    monkeypatch.setattr(serve.cli, "_connect", lambda url, key, name: (None, name or "m"))
    monkeypatch.setattr(serve.demo, "build_app", build_app)

    def run(*args):
        import cli
        from serve.server import free_port

        res = CliRunner().invoke(cli.main, ["demo", "--port", str(free_port()), *args])
        return res, got.get("run_dir")

    return run


def test_the_demo_hands_the_tab_its_run(scored_run, demo_run_dir, tmp_path):
    run = tmp_path / "runs" / "r1"
    (run / "final").mkdir(parents=True)
    for f in ("config.json", "model.safetensors", "tokenizer.json"):  # loadable, as far as the paths go
        (run / "final" / f).write_text("{}")
    (run / "run.json").write_text(json.dumps({"model": "final"}))
    res, got = demo_run_dir("--model", str(run))  # the run it serves
    assert res.exit_code == 0, res.output
    assert got == run
    res, got = demo_run_dir("--model", str(run / "final"))  # a bare model: no run to show
    assert res.exit_code == 0 and got is None
    res, got = demo_run_dir("--base-url", "http://127.0.0.1:1", "--run-dir", str(scored_run))
    assert res.exit_code == 0 and got == Path(scored_run)
    res, got = demo_run_dir("--base-url", "http://127.0.0.1:1")
    assert res.exit_code == 0 and got is None


def test_a_run_dir_that_is_not_a_run(demo_run_dir, tmp_path):
    res, _ = demo_run_dir("--base-url", "http://127.0.0.1:1", "--run-dir", str(tmp_path))
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert f"{tmp_path} is not a run directory (no run.json)" in res.output


def test_the_alarm_panel_when_none_fired(scored_run, tmp_path):
    import shutil

    from serve.run_tab import NO_ALARM

    run = tmp_path / "r"
    run.mkdir()
    (run / "run.json").write_text("{}")
    assert run_view(run)["run_alarms"] == "No training metrics yet (metrics.jsonl)."
    shutil.copy(scored_run / "metrics.jsonl", run / "metrics.jsonl")
    (run / "summary.json").write_text(json.dumps({"alarms": []}))  # the run ended and none fired
    assert run_view(run)["run_alarms"] == NO_ALARM
