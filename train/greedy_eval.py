"""Greedy accuracy of a model on Countdown tasks, scored by `tasks.countdown.verify` (the one
verifier). Used while training (validation split, picks the checkpoint) and, when the
evaluation package is absent, for the final base-vs-trained table on the test split.

    python -m train.greedy_eval runs/tiny-r1-countdown/final data/countdown/test.jsonl

It is plain batched `generate()` with left padding: for a tiny model on 2 CPU cores that is
faster than starting any engine, and decoding is greedy, so the number is deterministic.
"""

from __future__ import annotations

import sys


def generate_completions(model, tokenizer, rows: list[dict], batch_size: int, num_return_sequences: int = 1,
                         **generate_kwargs):
    """Yield (rows chunk, completion texts) per batch: the reference prompt, left padding, eval mode
    (both restored afterwards); a row's `num_return_sequences` texts are consecutive."""
    import torch

    from tasks.countdown.prompt import render_prompt

    from .decode_cache import cache_kwargs

    was_training = model.training
    model.eval()
    pad_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        for i in range(0, len(rows), batch_size):
            chunk = rows[i:i + batch_size]
            prompts = [render_prompt(tokenizer, r["nums"], r["target"]) for r in chunk]
            enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            # the copies made here, as `generate` would make them, so a shared prompt cache can see them
            enc = {k: v.repeat_interleave(num_return_sequences, dim=0) for k, v in enc.items()}
            with torch.inference_mode():
                out = model.generate(**enc, pad_token_id=tokenizer.pad_token_id,
                                     **cache_kwargs(model, enc["input_ids"], enc["attention_mask"]), **generate_kwargs)
            yield chunk, tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    finally:
        tokenizer.padding_side = pad_side
        model.train(was_training)


def score_generation(row: dict, text: str) -> dict:
    """Score a completion generated without a stop string exactly as the lm-eval task scores the
    same tokens: cut at the first `</answer>` (the task's stop string), then the task's own scoring
    (which closes an answer block the token budget left open). Validation and test numbers of one
    model then differ only by their tasks."""
    from tasks.countdown.lm_eval_hooks import cut_at_stop, score

    return score(row, cut_at_stop(text))


def greedy_accuracy(model, tokenizer, rows: list[dict], max_new_tokens: int = 64, batch_size: int = 125,
                    return_samples: bool = False) -> dict:
    correct = formatted = 0
    samples = []
    for chunk, texts in generate_completions(model, tokenizer, rows, batch_size, max_new_tokens=max_new_tokens,
                                             do_sample=False):
        for r, t in zip(chunk, texts):
            s = score_generation(r, t)
            correct += s["ok"]
            formatted += s["well_formatted"]
            if return_samples:
                samples.append({"nums": r["nums"], "target": r["target"], "completion": t, "ok": s["ok"],
                                "reason": s["reason"]})
    n = len(rows)
    acc = correct / n if n else 0.0
    res = {"correct": correct, "total": n, "accuracy": acc, "stderr": (acc * (1 - acc) / max(n - 1, 1)) ** 0.5,
           "format_rate": formatted / n if n else 0.0}
    if return_samples:
        res["samples"] = samples
    return res


def evaluate_path(model_path: str, rows: list[dict], **kw) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype="float32")
    return greedy_accuracy(model, tok, rows, **kw)


if __name__ == "__main__":
    from tasks.countdown.data import load_split

    r = evaluate_path(sys.argv[1], load_split(sys.argv[2]))
    print(f"{r['correct']}/{r['total']} = {r['accuracy']:.1%}")
