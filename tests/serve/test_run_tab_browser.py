"""The demo's Run tab in headless Chromium (Debian's, through pytest-playwright), as a user opens it:
`cli.py demo --base-url URL --run-dir RUN` on a run written by the project's own writers
(tests/scored_run.py). The table with its paired line, both figures drawn, the alarm, the breakdowns,
the samples filtered by verdict and difficulty, model output shown as text and never run; and a
demo started without a run says what it needs. No model is needed: the server is a stand-in that
lists one model (tests/demo_page.py). A screenshot is saved (path printed).

    .venv/bin/python -m pytest -q tests/serve/test_run_tab_browser.py
"""

from __future__ import annotations

import json
import re

import pytest

from tests.demo_page import models_stub, start_demo
from tests.scored_run import samples_of

pytestmark = [pytest.mark.slow, pytest.mark.browser]
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def stub_url():
    with models_stub() as (base, _):
        yield base


@pytest.fixture(scope="module")
def run_page(stub_url, scored_run, tmp_path_factory):
    proc, url = start_demo(stub_url, "k", tmp_path_factory.mktemp("demo") / "demo.log", "--run-dir", str(scored_run))
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def _open_run_tab(page, url):
    page.goto(url)
    page.get_by_role("tab", name="Run").click()


def test_the_run_tab_shows_the_run(page, run_page, scored_run, tmp_path):
    from playwright.sync_api import expect

    ev = json.loads((scored_run / "eval" / "summary.json").read_text())
    model, base, paired = ev["model"], ev["baseline"], ev["difference"]["paired"]
    _open_run_tab(page, run_page)
    tables = page.locator("#run_table table")
    expect(tables.first).to_contain_text("tiny-r1-countdown (final)", timeout=WAIT_MS)
    main = tables.nth(0).inner_text()
    assert re.search(rf"tiny-r1-countdown \(final\)\s+{model['correct']}/16", main), main
    assert re.search(rf"baseline: sft\s+{base['correct']}/16", main), main
    paired_row = tables.nth(1).inner_text()  # the paired line: solved by one only, McNemar
    assert f"{paired['only_a']} / {paired['only_b']}" in paired_row and "McNemar" in paired_row
    expect(page.locator("#run_table")).to_contain_text(f"difference: {model['correct'] - base['correct']:+d} tasks")

    for panel in ("#run_curves img", "#run_accuracy img"):  # drawn, not a broken image
        img = page.locator(panel)
        expect(img).to_be_visible()
        assert img.evaluate("e => e.complete && e.naturalWidth") > 300, panel
    expect(page.locator("#run_alarms")).to_contain_text("Alarm at step")
    expect(page.locator("#run_alarms")).to_contain_text("format_without_answers")
    breakdowns = page.locator("#run_breakdowns table")
    # number count, operators, solutions, number count with operators, verdict reasons, think-block steps
    assert breakdowns.count() == 6
    expect(breakdowns.nth(0)).to_contain_text("4 numbers")
    expect(breakdowns.nth(3)).to_contain_text("3 numbers, +/- only")
    expect(breakdowns.nth(5)).to_contain_text("steps right")
    expect(breakdowns.nth(5)).to_contain_text("100.0%")  # the solved tasks' steps are the solver's

    rows = samples_of(scored_run)
    samples = page.locator("#run_samples tr.sample")
    expect(samples).to_have_count(len(rows))
    page.locator("#run_samples_verdict").get_by_text("wrong", exact=True).click()
    expect(samples).to_have_count(sum(not r["ok"] for r in rows))
    assert page.locator("#run_samples tr.sample.right").count() == 0
    page.locator("#run_samples_bucket input").click()
    page.get_by_role("option", name="4 numbers", exact=True).click()
    expect(samples).to_have_count(sum(not r["ok"] and r["n_numbers"] == 4 for r in rows))
    expect(page.locator("#run_samples .count")).to_contain_text("wrong · 4 numbers")
    page.locator("#run_samples_verdict").get_by_text("right", exact=True).click()
    expect(samples).to_have_count(sum(r["ok"] and r["n_numbers"] == 4 for r in rows))
    assert page.locator("#run_samples tr.sample.wrong").count() == 0
    _shot(page, tmp_path, "run-tab")

    # The markup a model wrote is text on the page: no element made of it, nothing of it ran.
    page.locator("#run_samples_bucket input").click()
    page.get_by_role("option", name="all", exact=True).click()
    page.locator("#run_samples_verdict").get_by_text("all", exact=True).click()
    expect(samples).to_have_count(len(rows))
    expect(page.locator("#run_samples")).to_contain_text("<script>document.title='pwned'</script>")
    assert page.locator("#run_samples img, #run_samples script").count() == 0
    assert page.title() != "pwned"


def test_without_a_run_dir_the_tab_says_what_it_needs(page, stub_url, tmp_path):
    from playwright.sync_api import expect

    proc, url = start_demo(stub_url, "k", tmp_path / "demo.log")
    try:
        _open_run_tab(page, url)
        expect(page.locator("#run_missing")).to_contain_text("start the demo with --run-dir runs/<name>")
        assert page.locator("#run_table").count() == 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _shot(page, tmp_path, name):
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000
