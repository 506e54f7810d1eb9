"""The real vLLM server started by `cli.py serve` on the taught tiny model, driven by the OpenAI
client: chat, streaming, n>1, 64 concurrent requests, the API key, an oversized max_tokens, the
reasoning/content split through a tokenizer without `<think>` tokens, a plain client's request,
greedy defaults, and the server still healthy afterwards. The model has memorised 8 train tasks
(TAUGHT) and writes noise elsewhere (TASK): these check the plumbing and the verdict, not accuracy."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import subprocess
import urllib.request

import pytest

from serve.client import (CONTINUE_PREFILL, countdown_request, judge, message_parts, split_reasoning,
                          stream_countdown)
from tasks.countdown.prompt import build_messages
from tasks.countdown.think_split import join_reasoning
from tasks.countdown.verifier import verify

pytestmark = pytest.mark.slow
TASK = ([19, 36, 55, 7], 65)


def _streamed(client, **kw) -> tuple[str, str | None]:
    reasoning, content = "", ""
    for chunk in client.chat.completions.create(stream=True, **kw):
        if chunk.choices:
            dr, dc = message_parts(chunk.choices[0].delta)
            reasoning += dr or ""
            content += dc or ""
    return reasoning, content or None


def test_ready_message_and_models(served):
    out = served.stdout
    assert f"ready: {served.base_url}/v1" in out
    assert "from openai import OpenAI" in out
    names = [m.id for m in served.client().models.list()]
    assert names == [served.model]  # the name derived from the path, listed


def test_printed_curl_examples_work(served):
    # The examples the user is told to paste must themselves work: the full training prompt and
    # the plain user message get the same (greedy) answer.
    curls = re.findall(r"^(curl .*?)\n\n", served.stdout, re.S | re.M)
    assert len(curls) == 2
    messages = []
    for curl in curls:
        res = subprocess.run(["bash", "-c", curl.replace("\\\n", " ") + " -s --max-time 120"], capture_output=True,
                             text=True, timeout=150)
        body = json.loads(res.stdout)
        assert body["object"] == "chat.completion"
        messages.append(body["choices"][0]["message"])
    assert messages[0]["reasoning"] is not None
    assert (messages[0]["reasoning"], messages[0]["content"]) == (messages[1]["reasoning"], messages[1]["content"])


def test_chat_completion(served):
    r = served.client().chat.completions.create(**countdown_request(served.model, *TASK, max_tokens=24))
    choice = r.choices[0]
    reasoning, content = message_parts(choice.message)
    assert choice.finish_reason in ("stop", "length")
    assert r.usage.completion_tokens <= 24
    # The prompt ends inside <think> (prefill): what the model writes is reasoning until </think>.
    assert reasoning is not None and "</think>" not in reasoning


def test_streamed_matches_non_streamed(served):
    client = served.client()
    parts = list(stream_countdown(client, served.model, *TASK, max_tokens=24))
    assert len(parts) >= 3  # tokens arrived one chunk at a time, then the final answer
    reasoning, content, answer = parts[-1]
    assert answer is not None and all(p[2] is None for p in parts[:-1])
    r = client.chat.completions.create(**countdown_request(served.model, *TASK, max_tokens=24))
    r_reasoning, r_content = message_parts(r.choices[0].message)
    assert (reasoning, content or None) == (r_reasoning, r_content or None)  # greedy: same text both ways
    assert answer.verdict == verify(answer.text, *TASK)


def test_n_4(served):
    kw = countdown_request(served.model, *TASK, max_tokens=16, temperature=1.0)
    r = served.client().chat.completions.create(n=4, **kw)
    assert sorted(c.index for c in r.choices) == [0, 1, 2, 3]
    assert all(c.finish_reason in ("stop", "length") for c in r.choices)
    texts = [join_reasoning(*message_parts(c.message)) for c in r.choices]
    assert len(set(texts)) >= 2, texts  # four samples, not one answer copied four times
    assert r.usage.completion_tokens <= 4 * 16


def test_reasoning_content_split(served, taught_task):
    """The served split is exactly the project's `split_reasoning` of the raw completion, streamed
    and not, with `</think>` written as `</` `think` `>` (vLLM's deepseek_r1 cannot load this
    tokenizer at all)."""
    from transformers import AutoTokenizer

    from tasks.countdown.prompt import render_prompt

    client = served.client()
    kw = countdown_request(served.model, *taught_task, max_tokens=60)
    reasoning, content = message_parts(client.chat.completions.create(**kw).choices[0].message)
    assert content and content.startswith("<answer>"), (reasoning, content)  # no leading "\n"
    assert "</think>" not in reasoning and "think>" not in content

    prompt = render_prompt(AutoTokenizer.from_pretrained(served.model_dir), *taught_task)
    raw = client.completions.create(model=served.model, prompt=prompt, max_tokens=60).choices[0].text
    assert "</think>" in raw
    assert (reasoning, content) == split_reasoning(raw)
    assert judge(reasoning, content, *taught_task).ok  # a memorised task, answered greedily: the verifier agrees
    assert _streamed(client, **kw) == (reasoning, content)


def test_a_plain_client_gets_the_trained_format(served, taught_task):
    """Only a user message, no system prompt, no prefill, no extra_body: the served chat template
    adds what training had, so the answer is the same as for the full request."""
    from tasks.countdown.prompt import user_message

    client = served.client()
    full = message_parts(client.chat.completions.create(
        **countdown_request(served.model, *taught_task, max_tokens=60)).choices[0].message)
    plain_kw = dict(model=served.model, messages=[{"role": "user", "content": user_message(*taught_task)}],
                    max_tokens=60)
    plain = message_parts(client.chat.completions.create(**plain_kw).choices[0].message)
    assert plain == full
    assert judge(*plain, *taught_task).reason != "no_answer"
    assert _streamed(client, **plain_kw) == plain


def test_requests_without_a_temperature_are_greedy(served):
    """The server's default sampling is what `evaluate` and the demo score: greedy."""
    client = served.client()
    kw = dict(model=served.model, messages=build_messages(*TASK), max_tokens=24, extra_body=dict(CONTINUE_PREFILL))
    texts = {join_reasoning(*message_parts(client.chat.completions.create(**kw).choices[0].message))
             for _ in range(3)}
    assert len(texts) == 1, texts
    explicit = countdown_request(served.model, *TASK, max_tokens=24, temperature=0.0)
    assert join_reasoning(*message_parts(client.chat.completions.create(**explicit).choices[0].message)) in texts


def test_a_conversation_with_a_closed_think_block_splits_the_same_streamed_and_not(served, taught_task):
    from tasks.countdown.prompt import user_message

    client = served.client()
    kw = dict(model=served.model, max_tokens=60, messages=[
        {"role": "user", "content": user_message(*TASK)},
        {"role": "assistant", "content": "55+36=91 </think>\n<answer>55+36-7-19</answer>"},
        {"role": "user", "content": user_message(*taught_task)}])
    whole = message_parts(client.chat.completions.create(**kw).choices[0].message)
    assert _streamed(client, **kw) == whole
    assert whole[0] and "</think>" not in whole[0]  # the new turn opens its own think block


def test_64_concurrent_requests_all_answered(served):
    import openai

    client = openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=served.api_key, timeout=180,
                                max_retries=0)

    async def run():
        reqs = [client.chat.completions.create(**countdown_request(served.model, [i % 100 + 1, 3, 4], 10 + i,
                                                                   max_tokens=16)) for i in range(64)]
        return await asyncio.wait_for(asyncio.gather(*reqs), timeout=300)

    # Playwright's sync API (browser tests in the same session) leaves an event loop set on
    # the main thread; asyncio.run needs a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        results = pool.submit(asyncio.run, run()).result()
    assert len(results) == 64
    assert all(r.choices and r.choices[0].finish_reason in ("stop", "length") for r in results)


def test_api_key_required(served):
    import openai

    bad = openai.OpenAI(base_url=served.base_url + "/v1", api_key="wrong", max_retries=0, timeout=30)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(**countdown_request(served.model, *TASK, max_tokens=4))
    assert e.value.status_code == 401
    req = urllib.request.Request(served.base_url + "/v1/models")  # no Authorization header at all
    with pytest.raises(urllib.error.HTTPError) as e2:
        urllib.request.urlopen(req, timeout=30)
    assert e2.value.code == 401


def test_oversized_max_tokens_is_a_clear_400(served):
    import openai

    with pytest.raises(openai.BadRequestError) as e:
        served.client().chat.completions.create(**countdown_request(served.model, *TASK, max_tokens=1_000_000))
    assert e.value.status_code == 400
    assert "max_tokens" in str(e.value) and "max_model_len" in str(e.value)


def test_still_healthy_after_everything(served):
    with urllib.request.urlopen(served.base_url + "/health", timeout=30) as r:
        assert r.status == 200
    r = served.client().chat.completions.create(**countdown_request(served.model, *TASK, max_tokens=4))
    assert r.choices[0].finish_reason in ("stop", "length")
