"""The whole `cli.py train` run: checks, data, (tiny model), cold-start SFT, GRPO, final model,
summary. Every check that can fail runs before the first training step.

    python cli.py train                                   # embedded CPU default (tiny-cpu.yaml)
    python cli.py train --config train/recipes/grpo-1.5b.yaml
    python cli.py train --resume                          # continue from the newest complete checkpoint
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from common.run_dir import (BASE, DATA, FINAL, METRICS, RECIPE, SFT, SUMMARY, newest_resumable_checkpoint,
                            read_run_json, resumable_checkpoints, run_path, split_file, update_json, write_run_json)
from tasks.countdown.data import load_split

from .config import TINY_MODEL, RunConfig, save_resolved
from .distributed import is_main_process, rank_local_loading, world_size
from .errors import TrainError
from .modeling import check_model, load_tokenizer, prepare_tiny
from .phases import PhaseClock, shortened_note


def log(msg: str) -> None:
    if is_main_process():
        print(f"[train] {msg}", flush=True)


def check_output_dir(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TrainError(f"cannot create output directory {run_dir}: {e.strerror}") from None
    probe = run_dir / f".write_test.{os.getpid()}"  # one per process: ranks check at the same time
    try:
        probe.write_text("")
        probe.unlink()
    except OSError:
        raise TrainError(f"output directory is not writable: {run_dir}") from None


def set_threads(n: int, use_cpu: bool) -> int:
    """Sets torch's CPU threads (common.hardware.cpu_threads decides) and returns the count; on a
    GPU run only an explicit `n` is applied."""
    import torch

    from common.hardware import cpu_threads

    if n == 0 and not use_cpu:
        return torch.get_num_threads()
    n = cpu_threads(n)
    torch.set_num_threads(n)
    log(f"torch CPU threads: {n}")
    return n


def note_cpu_bf16(bf16: bool, use_cpu: bool) -> str | None:
    """One line when a CPU run computes in bf16 on a CPU that only emulates it (slower than fp32)."""
    from common.hardware import cpu_has_native_bf16

    if not (bf16 and use_cpu) or cpu_has_native_bf16() is not False:
        return None
    return ("note: bf16: true on a CPU without native bf16 (no avx512_bf16/amx_bf16/bf16 flag): the steps are "
            "emulated and slower than fp32; --set bf16=false is faster but trains a different run than this recipe's")


def export_final(src: Path, final: Path, dtype: str | None) -> None:
    """Write `src` (a checkpoint, or a LoRA adapter checkpoint) to `final` as one plain model
    in the training dtype: lm-eval, vLLM and the demo then load it like any other model."""
    if (src / "adapter_config.json").is_file():
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(src, dtype=dtype or "auto").merge_and_unload()
    else:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(src, dtype=dtype or "auto")
    model.save_pretrained(final)


def average_if_better(run_dir: Path, best_val: float | None, val_cb, dtype: str | None, log=print):
    """(model, label, val accuracy) of the kept checkpoints' weight average when its greedy val
    accuracy beats `best_val` (the best single checkpoint's); else None."""
    from .averaging import average_checkpoints

    # whole models only: a LoRA run's checkpoints hold adapters
    paths = [p for p in resumable_checkpoints(run_dir)
             if (p / "config.json").is_file() and not (p / "adapter_config.json").exists()]
    if len(paths) < 2 or best_val is None:
        return None
    model = average_checkpoints(paths, dtype)  # scored in the dtype final/ is saved in
    acc = val_cb.accuracy(model)
    label = "average of " + ", ".join(p.name for p in paths)
    better = acc > best_val
    log(f"checkpoint average ({label}): val accuracy {acc:.1%} vs best single {best_val:.1%}"
        f" -> {'final is the average' if better else 'final is the best single checkpoint'}")
    return (model, label, acc) if better else None


def run(cfg: RunConfig, resume: bool = False) -> dict:
    """The whole run, phase by phase; every check that can fail runs before the first training step."""
    t_start = time.time()
    clock = PhaseClock()
    threads = set_threads(cfg.script.torch_num_threads, cfg.grpo.use_cpu)
    from . import decode_cache

    decode_cache.use(cfg.script.kv_cache)
    if note := note_cpu_bf16(cfg.grpo.bf16, cfg.grpo.use_cpu):
        log(note)
    run_dir = cfg.output_dir
    check_output_dir(run_dir)
    resume_from = find_resume_point(run_dir, resume, cfg.grpo.max_steps)
    if resume_from is None and is_main_process():
        (run_dir / SUMMARY).unlink(missing_ok=True)  # a new run's summary holds only its own phases
    log(f"model: {check_model(cfg.model.model_name_or_path)}")
    splits, base = prepare_data_and_base(cfg, run_dir, clock)
    with clock.phase("cold start") as rec:
        policy, baseline, grpo_rows = cold_start_phase(cfg, run_dir, base, splits, rec)
    if is_main_process():
        record_inputs(run_dir, baseline)
    with clock.phase("curriculum") as rec:
        n_pool = len(grpo_rows)
        grpo_rows = curriculum_phase(cfg, run_dir, policy, grpo_rows, resume)
        if cfg.script.grpo_prompt_filter == "solvable_sometimes":
            rec["prompts"] = min(cfg.script.grpo_filter_pool, n_pool)
            rec["detail"] = f"{rec['prompts']} prompts x {cfg.script.grpo_filter_samples} samples, {len(grpo_rows)} kept"
    with clock.phase("GRPO") as rec:
        trainer, val_cb = grpo_phase(cfg, run_dir, policy, grpo_rows, splits, resume_from, rec)
    with clock.phase("checkpoint choice"):
        final_from, final_val = choose_and_export_final(cfg, run_dir, trainer, val_cb)
    if not trainer.is_world_process_zero():
        return {}
    return report_phase(cfg, run_dir, trainer.state, val_cb, final_from, final_val, clock, t_start, threads)


def find_resume_point(run_dir: Path, resume: bool, max_steps: int) -> Path | None:
    """The newest resumable checkpoint with --resume; without it, a note that training restarts."""
    newest = newest_resumable_checkpoint(run_dir)
    if resume:
        if newest is None:
            log(f"--resume: no complete checkpoint in {run_dir}; starting from step 0")
        return newest
    if newest is not None and max_steps > 0:
        log(f"note: {run_dir} already holds checkpoints; without --resume training restarts at step 0 "
            "and metrics.jsonl is rewritten")
    return None


def prepare_data_and_base(cfg: RunConfig, run_dir: Path, clock: PhaseClock | None = None):
    """(splits, base model): the splits found or built, their val/test copied into the run dir
    with the resolved recipe; the tiny base model built in the run dir, anything else a hub id or path.
    Under `accelerate launch` the main process writes; the others then read."""
    from accelerate import PartialState

    from .splits import ensure_splits, write_split_files

    clock = clock or PhaseClock()
    s, m = cfg.script, cfg.model
    with PartialState().main_process_first():
        with clock.phase("data") as rec:
            splits = ensure_splits(s.dataset, s.dataset_source, s.dataset_train_size, s.dataset_val_size,
                                   s.dataset_test_size, s.dataset_seed, log=log)
            if not splits.train:
                raise TrainError("the training split is empty")
            if is_main_process():
                write_split_files(splits, run_dir)
                save_resolved(cfg, run_dir)
            rec["detail"] = f"{len(splits.train)} train, {len(splits.val)} val, {len(splits.test)} test rows"
        with clock.phase("base model"):
            if m.model_name_or_path == TINY_MODEL:
                base = str(prepare_tiny(run_dir / BASE)) if is_main_process() else str(run_dir / BASE)
            else:
                base = m.model_name_or_path
    return splits, base


def cold_start_phase(cfg: RunConfig, run_dir: Path, base: str, splits, rec: dict | None = None):
    """(policy GRPO starts from, baseline it is compared with, GRPO's rows): the cold-start SFT on
    the first train rows when the recipe asks for it (GRPO then takes the rows after them).
    `rec` gets the steps reached of planned (train.phases)."""
    s = cfg.script
    baseline = base if cfg.model.model_name_or_path != TINY_MODEL else BASE
    if s.cold_start_steps <= 0:
        return base, baseline, splits.train
    from .sft import cold_start, cold_start_record

    n_sft = s.cold_start_max_traces or s.cold_start_steps * s.cold_start_batch_size
    sft_rows, grpo_rows = splits.train[:n_sft], splits.train[n_sft:] or splits.train
    t = time.perf_counter()
    reused = bool(cold_start_record(run_dir / SFT))
    policy = str(cold_start(base, sft_rows, cfg, run_dir / SFT, log=log))
    if rec is not None:
        done = cold_start_record(run_dir / SFT)
        rec.update(done)
        if reused:
            rec["detail"] = "reused from an earlier run"
        elif done.get("steps"):
            rec["seconds_per_step"] = round((time.perf_counter() - t) / done["steps"], 3)
    return policy, SFT, grpo_rows


def record_inputs(run_dir: Path, baseline: str) -> None:
    """run.json's inputs: the baseline, the run's own copies of its splits, the resolved recipe."""
    write_run_json(run_dir, baseline=baseline, test_split=split_file(run_dir, "test"),
                   val_split=split_file(run_dir, "val"), recipe=RECIPE)


def curriculum_phase(cfg: RunConfig, run_dir: Path, policy: str, grpo_rows: list[dict], resume: bool) -> list[dict]:
    """GRPO's prompts: all of them, or (grpo_prompt_filter: solvable_sometimes) those the starting
    policy solves sometimes; rank 0 samples, the others read its file."""
    s, g = cfg.script, cfg.grpo
    if s.grpo_prompt_filter != "solvable_sometimes":
        return grpo_rows
    from accelerate import PartialState

    from .curriculum import filter_prompts

    kept_file = run_dir / DATA / "grpo_prompts.jsonl"
    if not resume and is_main_process():
        kept_file.unlink(missing_ok=True)  # a fresh run samples its own policy again
    # rank 0 loads the policy on its own, hence rank_local_loading
    with PartialState().main_process_first(), rank_local_loading():
        return filter_prompts(policy, grpo_rows, pool=s.grpo_filter_pool, k=s.grpo_filter_samples,
                              temperature=g.temperature, max_new_tokens=g.max_completion_length,
                              seed=g.seed, out_file=kept_file, generation_dtype=s.generation_dtype, log=log)


def grpo_phase(cfg: RunConfig, run_dir: Path, policy: str, grpo_rows: list[dict], splits, resume_from,
               rec: dict | None = None):
    """(trainer, validation callback): TRL's GRPOTrainer on the prompts, validating on the val split,
    stopped with one line (checkpoints intact) when the rewards turn NaN. `rec` gets the steps
    reached of planned and the validation passes' time (train.phases)."""
    from .callbacks import ProgressCallback, RewardNaNError, TimeLimitCallback
    from .grpo import build_trainer
    from .trl_rows import prompt_dataset

    s, g = cfg.script, cfg.grpo
    tokenizer = load_tokenizer(policy)
    train_ds = prompt_dataset(grpo_rows, tokenizer, s.max_prompt_length)
    per_step = g.generation_batch_size // g.num_generations  # unique prompts one generation batch takes
    if g.max_steps > 0 and len(train_ds) < per_step:
        # TRL's sampler would yield no batch at all: a run of 0 steps that looks finished
        raise TrainError(f"only {len(train_ds)} GRPO prompt(s) for {per_step} per generation batch "
                         f"({g.generation_batch_size} completions / {g.num_generations} generations); "
                         "use more data or a smaller batch")
    val_rows = (splits.val[: s.val_limit] if s.val_limit else splits.val) if s.validate else []
    if resume_from is None and is_main_process():
        (run_dir / METRICS).unlink(missing_ok=True)
    trainer, val_cb = build_trainer(cfg, policy, tokenizer, train_ds, val_rows, run_dir, log=log)
    log(f"GRPO: {g.max_steps} steps, {g.world_size} process(es), "
        f"{g.per_device_train_batch_size * g.world_size * g.gradient_accumulation_steps}"
        f" completions/step ({g.num_generations} per prompt), lr {g.learning_rate}, beta {g.beta}, "
        f"loss {g.loss_type}" + (f"; resuming from {resume_from}" if resume_from else ""))
    t_grpo = time.time()
    try:
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    except RewardNaNError as e:
        for cb in trainer.callback_handler.callbacks:
            if isinstance(cb, ProgressCallback):
                cb.close()
        kept = newest_resumable_checkpoint(run_dir)
        raise TrainError(f"{e}; stopped. Checkpoints already written are intact"
                         + (f" (newest: {kept.name})" if kept else "")) from None
    if rec is not None:
        seconds = time.time() - t_grpo
        val_s = val_cb.seconds if val_cb else 0.0
        steps = trainer.state.global_step
        rec.update(steps=steps, planned_steps=g.max_steps)
        if steps:
            rec["seconds_per_step"] = round((seconds - val_s) / steps, 2)
        if val_cb:
            rec.update(validation_seconds=round(val_s, 1), validation_passes=len(val_cb.history))
            rec["detail"] = f"{rec['validation_passes']} validation passes, {val_s / 60:.1f} min of it"
        for cb in trainer.callback_handler.callbacks:
            if isinstance(cb, TimeLimitCallback) and cb.fired:
                rec["stopped_by"] = cb.fired
    return trainer, val_cb


def choose_and_export_final(cfg: RunConfig, run_dir: Path, trainer, val_cb):
    """(final_from, its val accuracy) on rank 0, (None, None) elsewhere: final/ is the checkpoint with
    the best *validation* accuracy (never the test split), or the checkpoints' average when that
    wins on val, or the last step when nothing was validated."""
    state = trainer.state
    chosen = None
    if state.best_global_step and (run_dir / f"checkpoint-{state.best_global_step}").is_dir():
        chosen = run_dir / f"checkpoint-{state.best_global_step}"
    src = chosen
    if src is None:  # no val pick: the last step (save_model is collective under ZeRO-3: every rank calls it)
        src = run_dir / "last-step"
        trainer.save_model(str(src))
    if not trainer.is_world_process_zero():
        return None, None
    with rank_local_loading():  # rank 0 alone from here on: no ZeRO-3 zero.Init in from_pretrained
        final_from, final_val = _write_final(run_dir, src, chosen, state, val_cb, trainer.processing_class, cfg)
    write_run_json(run_dir, model=FINAL, final_from=final_from, global_step=state.global_step)
    log(f"final model: {run_dir / FINAL} (from {final_from}, val accuracy "
        f"{f'{final_val:.1%}' if final_val is not None else 'n/a'})")
    return final_from, final_val


def report_phase(cfg: RunConfig, run_dir: Path, state, val_cb, final_from, final_val, clock: PhaseClock,
                 t_start: float, threads: int | None = None) -> dict:
    """curves.png, summary.json and the model card; the test-split table when the recipe asks for it
    (one process only: after a multi-process launch, `cli.py train` scores it); where the time went,
    and one line naming any phase a budget cut short."""
    from .alarms import alarms_in
    from .run_report import plot_curves, read_metrics

    plot_curves(run_dir)
    alarms = alarms_in(read_metrics(run_dir))
    for a in alarms:
        log(f"alarm at step {a['step']} ({a['alarm']}): {a['message']}")
    note = shortened_note(clock.phases)
    summary = {"run_dir": str(run_dir), "global_step": state.global_step,
               "grpo_seconds": clock.phases.get("GRPO", {}).get("seconds"),
               "final_from": final_from, "final_val_accuracy": final_val,
               "val_history": val_cb.history if val_cb else [], "torch_threads": threads,
               "phases": clock.phases, "shortened": note, "alarms": alarms,
               "wall_seconds": round(time.time() - t_start, 1)}
    write_summary(run_dir, summary)
    if cfg.script.final_eval:
        if world_size() > 1:
            # lm-eval's hf model would join this launch's process group and gather across it; the
            # table is scored by one process after the launch ends (train.cli does it).
            log("test-split table: scored by the launching process once all processes have exited "
                f"(or run: python cli.py evaluate --model {run_dir})")
        else:
            # rank_local_loading: a 1-process DeepSpeed launch, and lm-eval loads plain models
            with clock.phase("final scoring") as rec, rank_local_loading():
                summarize_run(cfg, log=log)
                rec["detail"] = "baseline and trained on the test split" + (
                    ", greedy and sampled" if cfg.script.final_eval_temperature else ", greedy")
            summary = write_summary(run_dir, {"phases": clock.phases, "wall_seconds": round(time.time() - t_start, 1)})
    print(f"\nWhere the time went ({threads} torch thread(s)):\n{clock.table()}", flush=True)
    if note:
        log(note)
    log(f"done in {(time.time() - t_start) / 60:.1f} min; summary: {run_dir / SUMMARY}")
    return summary


def _write_final(run_dir: Path, src: Path, chosen: Path | None, state, val_cb, tokenizer, cfg):
    """final/: the averaged checkpoints when that wins on val, else `src` re-saved as one plain model."""
    final = run_dir / FINAL
    if final.exists():
        shutil.rmtree(final)
    final_from = chosen.name if chosen else "last step"
    final_val = state.best_metric
    averaged = None
    if cfg.script.average_checkpoints and chosen is not None and val_cb is not None:
        averaged = average_if_better(run_dir, state.best_metric, val_cb, cfg.model.dtype, log)
    if averaged:
        model, final_from, final_val = averaged
        model.save_pretrained(final)
    else:
        export_final(src, final, cfg.model.dtype)
    if chosen is None:
        shutil.rmtree(src)
    tokenizer.save_pretrained(final)
    return final_from, final_val


def write_summary(run_dir: Path, fields: dict) -> dict:
    from evaluation.model_card import write_model_card

    out = update_json(run_dir / SUMMARY, fields)
    write_model_card(run_dir)  # over TRL's generic card, and kept current with the summary
    return out


def summarize_run(cfg: RunConfig, log=log) -> dict:
    """The base-vs-trained table on the run's test split, added to summary.json. One process: called
    at the end of a single-process run, or by `cli.py train` after a multi-process launch has ended."""
    from .run_report import summarize

    run_dir = cfg.output_dir
    info = read_run_json(run_dir)
    if info.get("model") != FINAL:
        raise TrainError(f"{run_dir}: no final model to score (run.json has no model: final)")
    test_file = run_path(run_dir, info["test_split"])
    t = time.time()
    table = summarize(run_dir, info["baseline"], load_split(test_file), str(test_file), cfg, log=log)
    return write_summary(run_dir, table | {"summary_seconds": round(time.time() - t, 1)})
