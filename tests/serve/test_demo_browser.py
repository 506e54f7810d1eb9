"""`cli.py demo --base-url` against the real vLLM server, driven in headless Chromium
(Debian's, through pytest-playwright): fill a puzzle, click Solve, read the verdict on the
page and check it is what tasks.countdown.verify says about the text the page shows; bad
input gets a message on the page; the random-puzzle button fills the fields; the chat tab
answers. A screenshot is saved (path printed)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request

import pytest

from serve.client import judge
from tests.conftest import ROOT
from tests.serve.conftest import cli_env

pytestmark = [pytest.mark.slow, pytest.mark.browser]
WAIT_MS = 120_000  # a generation on the loaded 2-core machine; expect() returns as soon as it shows


@pytest.fixture(scope="module")
def demo_url(served, tmp_path_factory):
    from serve.server import free_port

    port = free_port()
    log = tmp_path_factory.mktemp("demo") / "demo.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), "demo", "--base-url", served.base_url, "--api-key",
             served.api_key, "--port", str(port), "--max-tokens", "64"],
            cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env=cli_env(), start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"demo did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_puzzle_verdict_on_the_page(page, demo_url, tmp_path):
    from playwright.sync_api import expect

    page.goto(demo_url)
    page.locator("#numbers textarea").fill("19, 36, 55, 7")
    page.locator("#target textarea").fill("65")
    page.locator("#max_tokens input[type=number]").fill("40")
    page.locator("#solve").click()
    verdict = page.locator("#verdict")
    expect(verdict).to_contain_text(re.compile("[✓✗]"), timeout=WAIT_MS)
    reasoning = page.locator("#reasoning textarea").input_value()
    answer = page.locator("#answer textarea").input_value()
    assert reasoning, "the model's reasoning should be on the page"
    expected = judge(reasoning, answer or None, [19, 36, 55, 7], 65)
    expect(verdict).to_contain_text("✓ correct" if expected.ok else "✗ incorrect")
    expect(verdict).to_contain_text(f"reason: {expected.reason}")
    expect(verdict).to_contain_text(f"value: {'—' if expected.value is None else expected.value}")
    shot = tmp_path / "demo.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000


@pytest.mark.parametrize("numbers,message", [("19, x, 55", "must be whole numbers"),
                                             ("1 2 3 4 5 6 7", "too many numbers")])
def test_bad_puzzle_input_gets_a_message(page, demo_url, numbers, message):
    from playwright.sync_api import expect

    page.goto(demo_url)
    page.locator("#numbers textarea").fill(numbers)
    page.locator("#target textarea").fill("65")
    page.locator("#solve").click()
    expect(page.locator("#verdict")).to_contain_text(message, timeout=30_000)


def test_random_puzzle_and_chat(page, demo_url):
    from playwright.sync_api import expect

    page.goto(demo_url)
    page.locator("#random").click()
    expect(page.locator("#numbers textarea")).to_have_value(re.compile(r"^\d+(, \d+){2,3}$"), timeout=30_000)
    expect(page.locator("#target textarea")).to_have_value(re.compile(r"^\d+$"))

    page.get_by_role("tab", name="Chat").click()
    box = page.get_by_placeholder(re.compile("message", re.I)).first
    box.fill("hello")
    box.press("Enter")
    # the user's message and then a bot reply (any text: random weights) appear
    expect(page.locator(".message-row").nth(1)).to_be_visible(timeout=WAIT_MS)
