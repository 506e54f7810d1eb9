"""`cli.py` with the test-only "even" reward, for dynamic-sampling tests: run in-process by
test_grpo_step and under `accelerate launch` by test_scale_out. With DS_RECORD set, every batch a
process trains on is appended to DS_RECORD/rank<N>.jsonl."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tasks.countdown import rewards  # noqa: E402


def spread_on_even_targets(completions, target, **kw):
    """Reward spread within groups of even-target prompts, a constant for odd ones, so about half
    the groups are dead and dynamic sampling has something to drop and refill."""
    return [float(len(rewards.completion_text(c)) % 3) if t % 2 == 0 else 1.0 for c, t in zip(completions, target)]


def record_batches(out_dir: Path) -> None:
    from train import dynamic_sampling

    real = dynamic_sampling.merge_batches
    path = out_dir / f"rank{os.environ.get('RANK', '0')}.jsonl"

    def merge(parts, pad_id, num_items):
        b = real(parts, pad_id, num_items)
        with path.open("a") as f:
            f.write(json.dumps({"advantages": b["advantages"].tolist(), "num_items": int(b["num_items_in_batch"]),
                                "tokens": int(b["completion_mask"].sum())}) + "\n")
        return b

    dynamic_sampling.merge_batches = merge


if __name__ == "__main__":
    rewards.REWARD_FUNCS["even"] = spread_on_even_targets
    if os.environ.get("DS_RECORD"):
        record_batches(Path(os.environ["DS_RECORD"]))
    from cli import main

    main(sys.argv[1:])
