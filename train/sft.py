"""Cold start: a short SFT with TRL's SFTTrainer on solver-written traces, so the tiny model
starts GRPO able to solve some tasks but not all (room for RL; DeepSeek-R1's cold start too).

Run as part of `python cli.py train` when the recipe has `cold_start_steps > 0`; writes
`<run>/sft/` (model + tokenizer), the run's baseline.
"""

from __future__ import annotations

import json
from pathlib import Path

from common import private_api

# Resets accelerate's private shared state between the SFT and GRPO Accelerators (written for
# accelerate 1.15.0; common/private_api.py says why, tests/test_private_apis.py checks it).
private_api.check(__name__)

DONE = "sft_done"  # written last: the cold start finished; holds {"steps", "planned_steps"[, "stopped_by"]}


def cold_start_record(out_dir: Path) -> dict:
    """What the finished cold start in `out_dir` reached ({} for one written before steps were kept)."""
    try:
        rec = json.loads((Path(out_dir) / DONE).read_text())
    except (OSError, ValueError):
        return {}
    return rec if isinstance(rec, dict) else {}


def cold_start(model_path: str, rows: list[dict], cfg, out_dir: Path, log=print) -> Path:
    """Train `cfg.script.cold_start_steps` SFT steps; return the saved model dir."""
    from trl import SFTConfig, SFTTrainer

    from .trl_rows import arithmetic_dataset, sft_dataset, with_arithmetic
    from .modeling import load_tokenizer, master_dtype

    s, g = cfg.script, cfg.grpo
    if (out_dir / "config.json").is_file() and (out_dir / DONE).is_file():
        log(f"cold start: reusing {out_dir}")
        return out_dir
    tok = load_tokenizer(model_path)
    n = s.cold_start_max_traces or s.cold_start_steps * s.cold_start_batch_size
    ds = sft_dataset(rows, tok, n, s.cold_start_traces, s.think_digits)
    n_traces, note = len(ds), ""
    if s.cold_start_arithmetic_lines:
        ds = with_arithmetic(ds, arithmetic_dataset(rows, tok, s.cold_start_arithmetic_lines, 8, s.think_digits,
                                                    g.seed), tok)
        note = f" and {s.cold_start_arithmetic_lines} lines of their steps' arithmetic"
    log(f"cold start: SFT {s.cold_start_steps} steps x {s.cold_start_batch_size} "
        f"on {n_traces} solver traces ({s.cold_start_traces} solutions){note}")
    args = SFTConfig(
        output_dir=str(out_dir),
        max_steps=s.cold_start_steps,
        per_device_train_batch_size=s.cold_start_batch_size,
        learning_rate=s.cold_start_learning_rate,
        lr_scheduler_type=s.cold_start_lr_scheduler_type,
        warmup_steps=s.cold_start_warmup_steps,
        logging_steps=max(1, s.cold_start_steps // 10),
        save_strategy="no",
        report_to="none",
        use_cpu=g.use_cpu,
        bf16=g.bf16,
        seed=g.seed,
        disable_tqdm=False,
        weight_decay=0.0,
        dataloader_num_workers=0,
        max_length=None,
        # the recipe's one setting for both phases (TRL's configs default to True: recompute in the backward)
        gradient_checkpointing=g.gradient_checkpointing,
        gradient_checkpointing_kwargs=g.gradient_checkpointing_kwargs,
        # the recipe's attention for the cold start too (the embedded recipe's eager is faster at its shapes)
        model_init_kwargs={"dtype": master_dtype(cfg.model.dtype) or "float32"}
        | ({"attn_implementation": cfg.model.attn_implementation} if cfg.model.attn_implementation else {}),
    )
    from .callbacks import TimeLimitCallback

    callbacks = [TimeLimitCallback(s.cold_start_max_minutes, log)] if s.cold_start_max_minutes else []
    trainer = SFTTrainer(model=model_path, args=args, train_dataset=ds, processing_class=tok, callbacks=callbacks)
    trainer.train()
    trainer.save_model(str(out_dir))  # writes on the main process only (collective under ZeRO-3)
    if trainer.is_world_process_zero():
        tok.save_pretrained(str(out_dir))
        # steps reached of planned: a cold start cut by a cap is named in the run's summary (train.phases)
        done = {"steps": trainer.state.global_step, "planned_steps": s.cold_start_steps}
        if callbacks and callbacks[0].fired:
            done["stopped_by"] = callbacks[0].fired
        (out_dir / DONE).write_text(json.dumps(done) + "\n")
    # The other ranks load this model next: without the barrier they could read a half-written
    # config.json (seen in 1 of 3 two-process runs).
    trainer.accelerator.wait_for_everyone()
    # GRPO builds its own Accelerator next. accelerate keeps one shared state per process and
    # refuses a second DeepSpeed plugin ("You cannot pass in a `deepspeed_plugin` when creating a
    # second `Accelerator`"), so the SFT's engine is released and that state cleared; the process
    # group (PartialState) stays.
    from accelerate.state import AcceleratorState, GradientState

    trainer.accelerator.free_memory()
    del trainer
    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
    return out_dir
