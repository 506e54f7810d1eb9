"""The real vLLM server started by `cli.py serve` on the tiny model, driven by the OpenAI client:
chat, streaming, n>1, 64 concurrent requests, the API key, an oversized max_tokens, the
reasoning/content split, and the server still healthy afterwards. The tiny model has random
weights, so these check the plumbing (and the verifier's verdict on what comes back), not
accuracy."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import subprocess
import urllib.request

import pytest

from serve.client import completion_text, countdown_request, judge, message_parts, split_reasoning, stream_countdown
from tasks.countdown.verifier import verify

pytestmark = pytest.mark.slow
TASK = ([19, 36, 55, 7], 65)


def _think_close_id(model_dir) -> int:
    import json as _json

    tok = _json.loads((model_dir / "tokenizer.json").read_text())
    return next(t["id"] for t in tok["added_tokens"] if t["content"] == "</think>")


def test_ready_message_and_models(served):
    out = served.stdout
    assert f"ready: {served.base_url}/v1" in out
    assert "from openai import OpenAI" in out
    names = [m.id for m in served.client().models.list()]
    assert names == [served.model]  # the name derived from the path, listed


def test_printed_curl_example_works(served):
    # The example the user is told to paste must itself work.
    curl = re.search(r"^(curl .*?)\n\n", served.stdout, re.S | re.M).group(1).replace("\\\n", " ")
    res = subprocess.run(["bash", "-c", curl + " -s --max-time 120"], capture_output=True, text=True, timeout=150)
    body = json.loads(res.stdout)
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["reasoning"] is not None


def test_chat_completion(served):
    r = served.client().chat.completions.create(**countdown_request(served.model, *TASK, max_tokens=24))
    choice = r.choices[0]
    reasoning, content = message_parts(choice.message)
    assert choice.finish_reason in ("stop", "length")
    assert r.usage.completion_tokens <= 24
    # The prompt ends inside <think> (prefill): what the model writes is reasoning until </think>.
    assert reasoning is not None and "</think>" not in reasoning
    assert judge(reasoning, content, *TASK) == verify(completion_text(reasoning, content), *TASK)


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
    texts = [completion_text(*message_parts(c.message)) for c in r.choices]
    assert len(set(texts)) >= 2, texts  # four samples, not one answer copied four times
    assert r.usage.completion_tokens <= 4 * 16


def test_reasoning_content_split(served):
    """Make `</think>` likely (logit_bias on a random model) and check vLLM's deepseek_r1 parser
    splits exactly where the project's `split_reasoning` splits the raw completion, streamed
    and not: the tags and the prefill fit vLLM's parser."""
    from transformers import AutoTokenizer

    from tasks.countdown.prompt import render_prompt

    client = served.client()
    bias = {str(_think_close_id(served.model_dir)): 4}
    kw = countdown_request(served.model, *TASK, max_tokens=40, temperature=1.0)
    kw["extra_body"]["seed"] = 7
    r = client.chat.completions.create(logit_bias=bias, **kw)
    reasoning, content = message_parts(r.choices[0].message)
    assert content, "expected </think> to appear with the bias; content after it"
    assert "</think>" not in reasoning

    prompt = render_prompt(AutoTokenizer.from_pretrained(served.model_dir), *TASK)
    raw = client.completions.create(model=served.model, prompt=prompt, max_tokens=40, temperature=1.0, seed=7,
                                    logit_bias=bias).choices[0].text
    assert (reasoning, content) == split_reasoning(raw)

    streamed_r, streamed_c = "", ""
    for chunk in client.chat.completions.create(stream=True, logit_bias=bias, **kw):
        if chunk.choices:
            dr, dc = message_parts(chunk.choices[0].delta)
            streamed_r += dr or ""
            streamed_c += dc or ""
    assert (streamed_r, streamed_c) == (reasoning, content)


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
