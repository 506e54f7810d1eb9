"""`cli.py demo --base-url` against the real vLLM server, driven in headless Chromium
(Debian's, through pytest-playwright): fill a puzzle, click Solve, read the verdict on the
page (a large coloured mark, details below) and check it is what tasks.countdown.verify says
about the text the page shows; bad input gets a message on the page; the random-puzzle button
fills the fields and clears the last answer; the chat tab shows the reasoning in a collapsible
Thinking section and a verdict for a puzzle, with its sliders in view; a server that has gone
away is named. Screenshots are saved (paths printed)."""

from __future__ import annotations

import re

import pytest

from serve.client import judge
from tests.demo_page import models_stub, start_demo

pytestmark = [pytest.mark.slow, pytest.mark.browser]
WAIT_MS = 120_000  # a generation on the loaded 2-core machine; expect() returns as soon as it shows


@pytest.fixture(scope="module")
def demo_url(served, tmp_path_factory):
    proc, url = start_demo(served.base_url, served.api_key, tmp_path_factory.mktemp("demo") / "demo.log")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def _shot(page, tmp_path, name):
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000


def test_puzzle_verdict_on_the_page(page, demo_url, taught_task, tmp_path):
    from playwright.sync_api import expect

    numbers, target = taught_task
    page.goto(demo_url)
    page.locator("#numbers textarea").fill(", ".join(map(str, numbers)))
    page.locator("#target textarea").fill(str(target))
    page.locator("#max_tokens input[type=number]").fill("60")
    page.locator("#solve").click()
    mark = page.locator("#verdict .mark")
    expect(mark).to_contain_text(re.compile("[✓✗]"), timeout=WAIT_MS)
    reasoning = page.locator("#reasoning textarea").input_value()
    answer = page.locator("#answer textarea").input_value()
    assert reasoning, "the model's reasoning should be on the page"
    assert answer.startswith("<answer>"), repr(answer)  # no empty first line
    expected = judge(reasoning, answer or None, numbers, target)
    expect(mark).to_have_text("✓ correct" if expected.ok else "✗ incorrect")
    # The mark stands out: large, bold, green or red; the details sit below it, smaller.
    style = mark.evaluate("e => { const s = getComputedStyle(e); return [s.color, s.fontSize, s.fontWeight] }")
    assert style[0] == ("rgb(21, 128, 61)" if expected.ok else "rgb(185, 28, 28)"), style
    details = page.locator("#verdict .details")
    assert float(style[1].removesuffix("px")) > 1.5 * float(details.evaluate(
        "e => getComputedStyle(e).fontSize").removesuffix("px"))
    assert mark.bounding_box()["y"] < details.bounding_box()["y"]
    expect(details).to_contain_text(f"reason: {expected.reason}")
    expect(details).to_contain_text(f"value: {'—' if expected.value is None else expected.value}")
    _shot(page, tmp_path, "demo")

    # A new random puzzle: the old reasoning, answer and verdict go.
    page.locator("#random").click()
    expect(page.locator("#numbers textarea")).to_have_value(re.compile(r"^\d+(, \d+){2,3}$"), timeout=30_000)
    expect(page.locator("#target textarea")).to_have_value(re.compile(r"^\d+$"))
    expect(page.locator("#reasoning textarea")).to_have_value("")
    expect(page.locator("#answer textarea")).to_have_value("")
    expect(page.locator("#verdict")).not_to_contain_text(re.compile("[✓✗]"))


@pytest.mark.parametrize("numbers,message", [("19, x, 55", "must be whole numbers"),
                                             ("1 2 3 4 5 6 7", "too many numbers")])
def test_bad_puzzle_input_gets_a_message(page, demo_url, numbers, message):
    from playwright.sync_api import expect

    page.goto(demo_url)
    page.locator("#numbers textarea").fill(numbers)
    page.locator("#target textarea").fill("65")
    page.locator("#solve").click()
    expect(page.locator("#verdict")).to_contain_text(message, timeout=30_000)


def test_chat_shows_thinking_and_a_verdict(page, demo_url, taught_task, tmp_path):
    from playwright.sync_api import expect

    from tasks.countdown.prompt import user_message

    page.goto(demo_url)
    page.get_by_role("tab", name="Chat").click()
    # Both settings in view, the temperature greedy like the puzzle tab.
    expect(page.locator("#chat_max_tokens")).to_be_visible()
    expect(page.locator("#chat_temperature")).to_be_visible()
    expect(page.locator("#chat_temperature input[type=number]")).to_have_value("0")
    box = page.get_by_placeholder(re.compile("message", re.I)).first
    box.fill(user_message(*taught_task))  # the training prompt, no system prompt or prefill: a plain client
    box.press("Enter")
    bot = page.locator(".message-row.bot-row, .bot-row")
    thinking = page.get_by_text("Thinking", exact=False).first
    expect(thinking).to_be_visible(timeout=WAIT_MS)
    verdict = page.get_by_text(re.compile(r"[✓✗] (correct|incorrect) \(verifier\)")).first
    expect(verdict).to_be_visible(timeout=WAIT_MS)
    text = bot.all_inner_texts()
    assert not any("</think>" in t or "<think>" in t for t in text), text  # no raw tags: a section instead
    assert any("<answer>" in t for t in text), text
    _shot(page, tmp_path, "chat")


def test_a_server_that_went_away_is_named(page, tmp_path):
    """A throwaway HTTP stand-in answers the demo's start-up /v1/models and is then shut down,
    as a vLLM server that stopped would be: the page names the URL and what to start."""
    from playwright.sync_api import expect

    with models_stub() as (base, stub):
        proc, url = start_demo(base, "k", tmp_path / "demo.log")
        try:
            stub.shutdown()
            stub.server_close()
            page.goto(url)
            page.locator("#numbers textarea").fill("1, 2, 3")
            page.locator("#target textarea").fill("6")
            page.locator("#solve").click()
            expect(page.locator("#verdict")).to_contain_text(f"cannot reach the model server at {base}",
                                                             timeout=60_000)
            expect(page.locator("#verdict")).to_contain_text("cli.py serve")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
