"""The reasoning split without a server: tasks.countdown.think_split's streamed and whole-text splits agree
for any cut of any text; the `mini_r1` vLLM parser (the real vLLM classes, fed through vLLM's
own `Parser.parse_delta` as the chat server does) works with a tokenizer that writes `<think>`
as several tokens, as Qwen2.5's does, where vLLM's `deepseek_r1` cannot even be built; and the
served chat template renders a plain user message exactly as training rendered the prompt."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.countdown.think_split import StreamSplit, reasoning_closed, split_reasoning
from tasks.countdown.prompt import ASSISTANT_PREFILL, SYSTEM_PROMPT, build_messages, render_prompt, user_message

PIECES = ["<think>", "</think>", "</", "<", "think", ">", "\n", " ", "a", "<answer>", "55+36-7-19", "</answer>", "é"]


def _stream(split: StreamSplit, deltas) -> tuple[str, str]:
    reasoning, content = "", ""
    for d in deltas:
        r, c = split.feed(d)
        reasoning, content = reasoning + r, content + c
    return reasoning + split.finish(), content


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12), st.data())
def test_streamed_split_equals_whole_split_for_any_cut(pieces, data):
    text = "".join(pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=6)))
    deltas = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    reasoning, content = _stream(StreamSplit(), deltas)
    want_r, want_c = split_reasoning(text)
    assert (reasoning, content or None) == (want_r, want_c)


def test_split_rules():
    assert split_reasoning("<think>a</think>\n\n<answer>1</answer>") == ("a", "<answer>1</answer>")
    assert split_reasoning("a</think> \n") == ("a", None)  # nothing but whitespace after the tag
    assert split_reasoning("a</thi") == ("a</thi", None)  # cut off inside the tag: still reasoning
    assert split_reasoning("a</think>b</think>c") == ("a", "b</think>c")  # the first tag ends it
    assert not reasoning_closed(render_prompt(_tokenizer(), [1, 2, 3], 6))  # the prefill leaves it open
    assert reasoning_closed("<think> x </think> <answer>")
    assert not reasoning_closed("user text with no tags")


def _tokenizer():
    from train.tiny_model import build_tokenizer

    return build_tokenizer()


def test_the_test_tokenizer_writes_tags_as_several_tokens_like_qwen25():
    tok = _tokenizer()
    for tag, pieces in {"<think>": ["<", "think", ">"], "</think>": ["</", "think", ">"],
                        "<answer>": ["<", "answer", ">"], "</answer>": ["</", "answer", ">"]}.items():
        assert tok.convert_ids_to_tokens(tok.encode(tag, add_special_tokens=False)) == pieces
        assert tag not in tok.get_vocab()


def test_deepseek_r1_cannot_parse_such_a_tokenizer_and_mini_r1_can():
    from vllm.reasoning.deepseek_r1_reasoning_parser import DeepSeekR1ReasoningParser

    from serve.reasoning_parser import ThinkTextReasoningParser

    tok = _tokenizer()
    with pytest.raises(RuntimeError, match="could not locate think start/end tokens"):
        DeepSeekR1ReasoningParser(tok)
    ThinkTextReasoningParser(tok)


def _vllm_parser_class():
    """The Parser class vLLM's chat server builds for `--reasoning-parser mini_r1` (plugin loaded), through
    vLLM's public `ParserManager.get_parser` (in 0.31, the GPU pin, and 0.32, the CPU pin; 0.32 also takes a
    `tokenizer` to validate against, which 0.31 does not have: left out, as with `skip_tokenizer_init`)."""
    from vllm.parser.parser_manager import ParserManager
    from vllm.reasoning.abs_reasoning_parsers import ReasoningParserManager

    from serve.server import PARSER_NAME, PARSER_PLUGIN

    ReasoningParserManager.import_reasoning_parser(str(PARSER_PLUGIN))
    parser_cls = ParserManager.get_parser(tool_parser_name=None, reasoning_parser_name=PARSER_NAME)
    assert parser_cls is not None and parser_cls.reasoning_parser_cls.__name__ == "ThinkTextReasoningParser"
    return parser_cls


def _request(messages, **kw):
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest

    return ChatCompletionRequest(model="m", messages=messages, **kw)


@pytest.mark.parametrize("text", [
    "19+36=55, 55-7=48 </think>\n<answer>55+36-7-19</answer>",
    "no tag at all, cut off by max_tokens",
    "cut inside the tag </thi",
    "<think>repeated open tag</think><answer>1</answer>",
    "a </think>   ",
])
@pytest.mark.parametrize("step", [1, 2, 5])
def test_vllm_streams_what_it_returns_whole(text, step):
    """Token ids cut into deltas of `step` tokens, through vLLM's own parse_delta/parse."""
    tok = _tokenizer()
    parser_cls = _vllm_parser_class()
    request = _request(build_messages([19, 36, 55, 7], 65), continue_final_message=True,
                       add_generation_prompt=False)
    prompt_ids = tok.encode(render_prompt(tok, [19, 36, 55, 7], 65))
    ids = tok.encode(text, add_special_tokens=False)
    assert len(ids) > len(text) // 2  # written token by token, tags included
    streaming = parser_cls(tok)
    reasoning, content = "", ""
    for i in range(0, len(ids), step):
        chunk = ids[i:i + step]
        delta = streaming.parse_delta(tok.decode(ids[:i + step])[len(tok.decode(ids[:i])):], chunk, request,
                                      prompt_ids, finished=i + step >= len(ids))
        if delta is not None:
            reasoning += delta.reasoning or ""
            content += delta.content or ""
    whole_r, whole_c, _ = parser_cls(tok).parse(text, request)
    assert (reasoning, content or None) == (whole_r, whole_c) == split_reasoning(text)


def test_a_continued_turn_that_closed_its_think_block_is_all_content_both_ways():
    tok = _tokenizer()
    parser_cls = _vllm_parser_class()
    messages = build_messages([1, 2, 3], 6)[:2] + [{"role": "assistant", "content": "<think>1+2+3</think>\n"}]
    request = _request(messages, continue_final_message=True, add_generation_prompt=False)
    prompt_ids = tok.encode(tok.apply_chat_template(messages, continue_final_message=True, tokenize=False))
    text = "<answer>1+2+3</answer>"
    streaming = parser_cls(tok)
    delta = streaming.parse_delta(text, tok.encode(text, add_special_tokens=False), request, prompt_ids,
                                  finished=True)
    assert (delta.reasoning, delta.content) == (None, text)
    assert parser_cls(tok).parse(text, request)[:2] == (None, text)


def test_reasoning_token_count():
    from serve.reasoning_parser import ThinkTextReasoningParser

    tok = _tokenizer()
    parser = ThinkTextReasoningParser(tok)
    ids = tok.encode("ab </think><answer>1</answer>", add_special_tokens=False)
    assert parser.count_reasoning_tokens(ids) == 3  # "a", "b", " "
    assert tok.decode(parser.extract_content_ids(ids)) == "<answer>1</answer>"
    assert parser.count_reasoning_tokens(ids[:3]) == 3


def test_served_template_gives_a_plain_user_message_the_training_prompt():
    from serve.chat_template import served_chat_template

    tok = _tokenizer()
    served = served_chat_template(tok.chat_template)
    assert served_chat_template(served) == served  # wrapping twice changes nothing
    trained = render_prompt(tok, [19, 36, 55, 7], 65)
    plain = tok.apply_chat_template([{"role": "user", "content": user_message([19, 36, 55, 7], 65)}],
                                    chat_template=served, tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(build_messages([19, 36, 55, 7], 65), chat_template=served, tokenize=False,
                                   continue_final_message=True)
    assert plain == full == trained
    assert trained.startswith(f"<|im_start|>system\n{SYSTEM_PROMPT}") and trained.endswith(ASSISTANT_PREFILL)
    # A client's own system prompt is kept.
    own = tok.apply_chat_template([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
                                  chat_template=served, tokenize=False, add_generation_prompt=True)
    assert "Be brief." in own and SYSTEM_PROMPT not in own and own.endswith(ASSISTANT_PREFILL)
