"""Builds the embedded default's model: a tiny Qwen2ForCausalLM with its own tokenizer and
chat template, made locally (no hub), loadable by transformers, TRL, lm-eval and vLLM alike.

    python -m train.tiny_model runs/tiny-base

Tokenizer: byte-level BPE (the same ids in transformers, `tokenizers` and vLLM), plus
whole-phrase tokens for the reference prompt's fixed text, so the full reference prompt costs
~50 tokens instead of ~400 and CPU steps stay cheap. The tags are written the way
Qwen2.5-Instruct's tokenizer writes them, as several ordinary tokens (`<think>` is
`<` `think` `>`, `</answer>` is `</` `answer` `>`): Qwen2.5 has no `<think>` token, and
a test model that had one would hide every place that looks tags up in the vocabulary
(vLLM's `deepseek_r1` reasoning parser does). A few merges build those pieces; every other
byte stays one token. head_dim is 64 because vLLM's CPU attention rejects 16.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from tasks.countdown.prompt import ASSISTANT_PREFILL, SYSTEM_PROMPT, USER_TEMPLATE

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Qwen2.5's pieces for the tags: "<think>" -> "<" "think" ">", "</think>" -> "</" "think" ">".
TAG_PIECES = ["</", "think", "answer"]

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def phrase_tokens() -> list[str]:
    """The fixed pieces of the reference prompt, each one token."""
    before, rest = USER_TEMPLATE.split("{numbers}")
    middle, after = rest.split("{target}")
    prefill_text = ASSISTANT_PREFILL.removesuffix("<think>")
    return [SYSTEM_PROMPT, before, middle, after, prefill_text, "system\n", "user\n", "assistant\n"]


@dataclass
class TinyModelConfig:
    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 64
    intermediate_size: int = 768
    # Above the lm-eval task's 1024-token budget, which lm-eval's hf model requires to be smaller
    # than the context. Rotary positions: the weights and every logit are the same at any value.
    max_position_embeddings: int = 2048
    seed: int = 0


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    byte_alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(byte_alphabet))}
    merges = []
    for piece in TAG_PIECES:  # left to right: "t"+"h", "th"+"i", ... (all ASCII: byte chars = chars)
        for i in range(2, len(piece) + 1):
            merges.append((piece[:i - 1], piece[i - 1]))
            vocab.setdefault(piece[:i], len(vocab))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        model_max_length=TinyModelConfig.max_position_embeddings,
    )
    fast.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS})
    fast.add_tokens(phrase_tokens(), special_tokens=False)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_model(out_dir: str | Path, config: TinyModelConfig | None = None) -> Path:
    """Write a randomly initialised tiny Qwen2 model + tokenizer to `out_dir`; return it."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    cfg = config or TinyModelConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    vocab_size = (len(tokenizer) + 63) // 64 * 64
    qcfg = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads,
        head_dim=cfg.head_dim,
        max_position_embeddings=cfg.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="float32",
    )
    torch.manual_seed(cfg.seed)
    model = Qwen2ForCausalLM(qcfg)
    model.generation_config = GenerationConfig(
        eos_token_id=[qcfg.eos_token_id, tokenizer.convert_tokens_to_ids("<|endoftext|>")],
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "tiny_model.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    return out


if __name__ == "__main__":
    import sys

    print(build_tiny_model(sys.argv[1] if len(sys.argv) > 1 else "runs/tiny-base"))
