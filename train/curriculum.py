"""GRPO prompts the starting policy solves sometimes but not always.

GRPO learns only from groups whose rewards differ: a prompt the policy never solves (or always
solves) gives every completion the same advantage, zero, and costs a full generation for
nothing. On the embedded run that is most of the data: the cold-start tiny model solves ~15% of
sampled 3-number tasks but ~0.2% of 4-number ones (pass@16 59% vs 3%), so without a filter most
4-number groups are dead weight. This pre-pass samples `k` completions for a pool of training
prompts with the policy GRPO starts from, scores them with the one verifier, and keeps the
prompts with 0 < hits < k (the "solvable sometimes" band of DAPO's dynamic sampling, done once
up front because TRL's GRPOTrainer has no per-batch filter). The kept rows are written to the
run dir so `--resume` trains on the same prompts in the same order.

Enabled by `grpo_prompt_filter: solvable_sometimes` (the embedded recipe); off by default.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from .errors import TrainError


def sample_pass_counts(model, tokenizer, rows: list[dict], k: int, temperature: float, max_new_tokens: int,
                       batch_prompts: int = 32, seed: int = 0, progress=None) -> list[int]:
    """Correct completions out of `k` samples, per row."""
    import torch

    from tasks.countdown.verifier import verify

    from .greedy_eval import generate_completions

    torch.manual_seed(seed)
    hits: list[int] = []
    for chunk, texts in generate_completions(model, tokenizer, rows, batch_prompts, num_return_sequences=k,
                                             max_new_tokens=max_new_tokens, do_sample=True,
                                             temperature=temperature, top_k=0, top_p=1.0):
        for j, r in enumerate(chunk):
            hits.append(sum(verify(t, r["nums"], r["target"]).ok for t in texts[j * k:(j + 1) * k]))
        if progress:
            progress(len(hits))
    return hits


def filter_prompts(policy_path: str, rows: list[dict], *, pool: int, k: int, temperature: float,
                   max_new_tokens: int, seed: int, out_file: Path, generation_dtype: str = "auto",
                   log=print) -> list[dict]:
    """Rows from the first `pool` of `rows` with 0 < hits < k; cached in `out_file`."""
    from tasks.countdown.data import load_split, write_jsonl

    if out_file.is_file():
        kept = load_split(out_file)
        log(f"curriculum: reusing {len(kept)} prompts from {out_file}")
        return kept
    from tqdm.auto import tqdm
    from .generation_copy import load_for_generation
    from .modeling import load_tokenizer

    tok = load_tokenizer(policy_path)
    model = load_for_generation(policy_path, generation_dtype)
    cand = rows[:pool]
    t0 = time.time()
    bar = tqdm(total=len(cand), desc=f"curriculum ({k} samples/prompt)", dynamic_ncols=True)
    hits = sample_pass_counts(model, tok, cand, k, temperature, max_new_tokens, seed=seed,
                              progress=lambda n: bar.update(n - bar.n))
    bar.close()
    kept = [r for r, h in zip(cand, hits) if 0 < h < k]
    pool_by_n = Counter(str(len(r["nums"])) for r in cand)
    kept_by_n = Counter(str(len(r["nums"])) for r in kept)
    stats = {
        "pool": len(cand), "samples_per_prompt": k, "temperature": temperature, "kept": len(kept),
        "never_solved": sum(h == 0 for h in hits), "always_solved": sum(h == k for h in hits),
        "kept_by_numbers": {n: kept_by_n[n] for n in sorted(pool_by_n)},
        "pool_by_numbers": dict(sorted(pool_by_n.items())),
        "mean_pass_rate": sum(hits) / (k * len(cand)) if cand else 0.0,
        "seconds": round(time.time() - t0, 1),
    }
    log(f"curriculum: kept {len(kept)}/{len(cand)} prompts solved sometimes (0 < hits < {k}); "
        f"never {stats['never_solved']}, always {stats['always_solved']}; kept by number count "
        f"{stats['kept_by_numbers']} ({stats['seconds']:.0f}s)")
    out_file.parent.mkdir(parents=True, exist_ok=True)
    if not kept:
        raise TrainError(f"curriculum: none of {len(cand)} prompts is solved sometimes by {policy_path}; "
                         "train the cold start longer or set grpo_prompt_filter=none")
    write_jsonl(kept, out_file)
    out_file.with_suffix(".stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    return kept
