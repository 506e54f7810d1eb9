"""GRPO with TRL's GRPOTrainer: the same code path for the tiny CPU run and the 1.5B GPU recipe.

Called by `train.pipeline.run` (`python cli.py train ...`). The model goes to TRL as a path
plus `model_init_kwargs` (as in `trl/scripts/grpo.py`), so TRL, accelerate and DeepSpeed load
it the way they expect (ZeRO-3 init, vLLM weight sync, PEFT wrapping).
"""

from __future__ import annotations

from pathlib import Path

from common.run_dir import METRICS


def reward_functions(names: list[str]):
    from tasks.countdown.rewards import REWARD_FUNCS

    return [REWARD_FUNCS[n] for n in names]


def build_trainer(cfg, model_path: str, tokenizer, train_ds, val_rows: list[dict], run_dir: Path, log=print):
    from trl import GRPOTrainer, get_peft_config

    from .callbacks import (MetricsCallback, ProgressCallback, StepClock, TimeLimitCallback, ValidationCallback,
                            guard_rewards)

    g, s, m = cfg.grpo, cfg.script, cfg.model
    from .modeling import master_dtype

    kwargs = dict(g.model_init_kwargs or {})
    kwargs.setdefault("dtype", master_dtype(m.dtype, m.use_peft) or "auto")
    if kwargs["dtype"] != (m.dtype or "auto"):
        log(f"weights: loaded in {kwargs['dtype']} (master weights) for the optimizer; "
            + ("computed in bf16 under autocast" if g.bf16 else "computed in fp32")
            + f" (recipe dtype {m.dtype}; see train.modeling.master_dtype)")
    if m.attn_implementation:
        kwargs.setdefault("attn_implementation", m.attn_implementation)
    if m.model_revision and m.model_revision != "main":
        kwargs.setdefault("revision", m.model_revision)
    g.model_init_kwargs = kwargs

    clock = StepClock()
    metrics = MetricsCallback(run_dir / METRICS, clock, log)
    callbacks = [clock, metrics, ProgressCallback(clock)]
    if s.max_train_minutes:  # before validation, so a time stop still gets its val pass and save
        callbacks.append(TimeLimitCallback(s.max_train_minutes, log))
    val_cb = None
    if val_rows:
        val_cb = ValidationCallback(val_rows, tokenizer, s.val_steps, metrics, log,
                                    max_new_tokens=s.eval_max_new_tokens, batch_size=s.eval_batch_size)
        callbacks.append(val_cb)
    trainer_cls, extra = GRPOTrainer, {}
    if s.dynamic_sampling:
        from .dynamic_sampling import DynamicSamplingGRPOTrainer

        trainer_cls = DynamicSamplingGRPOTrainer
        extra = {"max_rounds": s.dynamic_sampling_max_rounds, "rounds_per_call": s.dynamic_sampling_rounds_per_call}
    if s.shared_prompt_loss:
        from .shared_prompt_loss import with_shared_prompt_loss

        trainer_cls = with_shared_prompt_loss(trainer_cls)
    if s.generation_dtype == "bfloat16":
        from .generation_copy import with_generation_copy

        trainer_cls = with_generation_copy(trainer_cls)
    trainer = trainer_cls(
        model=model_path,
        reward_funcs=guard_rewards(reward_functions(s.reward_funcs), clock),
        args=g,
        train_dataset=train_ds,
        processing_class=tokenizer,
        callbacks=callbacks,
        peft_config=get_peft_config(m),
        **extra,
    )
    # Our bar shows reward and step time; the Trainer's own printer would interleave dict lines.
    from transformers.trainer_callback import PrinterCallback, ProgressCallback as HFProgress

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(HFProgress)
    if val_cb is not None:
        val_cb.trainer = trainer  # validation generates through the trainer's accelerator (all ranks)
    return trainer, val_cb
