"""The whole `cli.py train` run: checks, data, (tiny model), cold-start SFT, GRPO, final model,
summary. Every check that can fail runs before the first training step.

    python cli.py train                                   # embedded CPU default (tiny-cpu.yaml)
    python cli.py train --config train/recipes/grpo-1.5b.yaml
    python cli.py train --resume                          # continue from the newest complete checkpoint
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from .config import TINY_MODEL, RunConfig, save_resolved
from .distributed import is_main_process, rank_local_loading, world_size


class TrainError(RuntimeError):
    """A run that cannot start or had to stop; printed as one line."""


def log(msg: str) -> None:
    if is_main_process():
        print(f"[train] {msg}", flush=True)


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """The checkpoint-N dirs that have trainer_state.json (written last by the Trainer, so a
    checkpoint killed mid-write is skipped), by step."""
    found = []
    for p in run_dir.glob("checkpoint-*"):
        step = p.name.removeprefix("checkpoint-")
        if step.isdigit() and (p / "trainer_state.json").is_file():
            found.append((int(step), p))
    return [p for _, p in sorted(found)]


def newest_complete_checkpoint(run_dir: Path) -> Path | None:
    found = complete_checkpoints(run_dir)
    return found[-1] if found else None


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


def update_json(p: Path, fields: dict) -> dict:
    """Merge `fields` into the JSON object at `p` (created if absent), replaced atomically."""
    data = json.loads(p.read_text()) if p.is_file() else {}
    data.update(fields)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, p)
    return data


def write_run_json(run_dir: Path, **fields) -> None:
    update_json(run_dir / "run.json", fields)


def set_threads(n: int, use_cpu: bool) -> None:
    import torch

    if n == 0 and use_cpu:
        cores = os.cpu_count() or 1
        # OpenMP threads spin-wait for each other; with the cores already busy, 1 thread is faster.
        n = 1 if os.getloadavg()[0] > cores - 0.5 else torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
        log(f"torch CPU threads: {n}")


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
    paths = [p for p in complete_checkpoints(run_dir)
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
    from .data import ensure_splits, prompt_dataset, write_split_files
    from .modeling import check_model, load_tokenizer, prepare_tiny

    t_start = time.time()
    s, g, m = cfg.script, cfg.grpo, cfg.model
    set_threads(s.torch_num_threads, g.use_cpu)
    run_dir = cfg.output_dir
    check_output_dir(run_dir)
    resume_from = None
    if resume:
        resume_from = newest_complete_checkpoint(run_dir)
        if resume_from is None:
            log(f"--resume: no complete checkpoint in {run_dir}; starting from step 0")
    elif newest_complete_checkpoint(run_dir) is not None and g.max_steps > 0:
        log(f"note: {run_dir} already holds checkpoints; without --resume training restarts at step 0 "
            "and metrics.jsonl is rewritten")
    log(f"model: {check_model(m.model_name_or_path)}")

    from accelerate import PartialState

    # Under `accelerate launch` the main process writes data and the tiny model; the others then read them.
    with PartialState().main_process_first():
        splits = ensure_splits(s.dataset, s.dataset_source, s.dataset_train_size, s.dataset_val_size,
                               s.dataset_test_size, s.dataset_seed, log=log)
        if not splits.train:
            raise TrainError("the training split is empty")
        if is_main_process():
            write_split_files(splits, run_dir)
            save_resolved(cfg, run_dir)
        # Base model: the tiny one is built in the run dir; anything else is a hub id / local path.
        if m.model_name_or_path == TINY_MODEL:
            base = str(prepare_tiny(run_dir / "base")) if is_main_process() else str(run_dir / "base")
        else:
            base = m.model_name_or_path
    if splits.test_file is None:
        write_split_files(splits, run_dir)  # sets the paths (rank 0 already wrote the files)
    baseline = base if m.model_name_or_path != TINY_MODEL else "base"
    grpo_rows = splits.train
    policy = base
    if s.cold_start_steps > 0:
        from .sft import cold_start

        n_sft = s.cold_start_max_traces or s.cold_start_steps * s.cold_start_batch_size
        sft_rows, grpo_rows = splits.train[:n_sft], splits.train[n_sft:] or splits.train
        policy = str(cold_start(base, sft_rows, cfg, run_dir / "sft", log=log))
        baseline = "sft"
    if is_main_process():
        write_run_json(run_dir, baseline=baseline, test_split=splits.test_file, val_split=splits.val_file,
                       recipe="config.yaml")

    if s.grpo_prompt_filter == "solvable_sometimes":
        from .curriculum import filter_prompts

        kept_file = run_dir / "data" / "grpo_prompts.jsonl"
        if not resume and is_main_process():
            kept_file.unlink(missing_ok=True)  # a fresh run samples its own policy again
        # rank 0 samples (loading the policy on its own, hence rank_local_loading); the others read its file
        with PartialState().main_process_first(), rank_local_loading():
            grpo_rows = filter_prompts(policy, grpo_rows, pool=s.grpo_filter_pool, k=s.grpo_filter_samples,
                                       temperature=g.temperature, max_new_tokens=g.max_completion_length,
                                       seed=g.seed, out_file=kept_file, log=log)
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
        (run_dir / "metrics.jsonl").unlink(missing_ok=True)

    from .grpo import build_trainer

    trainer, val_cb = build_trainer(cfg, policy, tokenizer, train_ds, val_rows, run_dir, log=log)
    log(f"GRPO: {g.max_steps} steps, {g.world_size} process(es), "
        f"{g.per_device_train_batch_size * g.world_size * g.gradient_accumulation_steps}"
        f" completions/step ({g.num_generations} per prompt), lr {g.learning_rate}, beta {g.beta}, "
        f"loss {g.loss_type}" + (f"; resuming from {resume_from}" if resume_from else ""))
    t_grpo = time.time()
    from .callbacks import ProgressCallback, RewardNaNError

    try:
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    except RewardNaNError as e:
        for cb in trainer.callback_handler.callbacks:
            if isinstance(cb, ProgressCallback):
                cb.close()
        kept = newest_complete_checkpoint(run_dir)
        raise TrainError(f"{e}; stopped. Checkpoints already written are intact"
                         + (f" (newest: {kept.name})" if kept else "")) from None
    grpo_seconds = time.time() - t_grpo

    # Final model: the checkpoint with the best *validation* accuracy (never the test split).
    state = trainer.state
    final = run_dir / "final"
    chosen = None
    if state.best_global_step and (run_dir / f"checkpoint-{state.best_global_step}").is_dir():
        chosen = run_dir / f"checkpoint-{state.best_global_step}"
    src = chosen
    if src is None:  # no val pick: the last step (save_model is collective under ZeRO-3: every rank calls it)
        src = run_dir / "last-step"
        trainer.save_model(str(src))
    if not trainer.is_world_process_zero():
        return {}
    with rank_local_loading():  # rank 0 alone from here on: no ZeRO-3 zero.Init in from_pretrained
        final_from, final_val = _write_final(run_dir, src, chosen, state, val_cb, tokenizer, cfg)
    write_run_json(run_dir, model="final", final_from=final_from, global_step=state.global_step)
    log(f"final model: {final} (from {final_from}, val accuracy "
        f"{f'{final_val:.1%}' if final_val is not None else 'n/a'})")

    from .report import plot_curves

    plot_curves(run_dir)
    summary = {"run_dir": str(run_dir), "global_step": state.global_step, "grpo_seconds": round(grpo_seconds, 1),
               "final_from": final_from, "final_val_accuracy": final_val,
               "val_history": val_cb.history if val_cb else [], "wall_seconds": round(time.time() - t_start, 1)}
    write_summary(run_dir, summary)
    if s.final_eval:
        if world_size() > 1:
            # lm-eval's hf model would join this launch's process group and gather across it; the
            # table is scored by one process after the launch ends (train.cli does it).
            log("test-split table: scored by the launching process once all processes have exited "
                f"(or run: python cli.py evaluate --model {run_dir})")
        else:
            with rank_local_loading():  # a 1-process DeepSpeed launch: lm-eval loads plain models
                summarize_run(cfg, log=log)
            summary = write_summary(run_dir, {"wall_seconds": round(time.time() - t_start, 1)})
    log(f"done in {(time.time() - t_start) / 60:.1f} min; summary: {run_dir / 'summary.json'}")
    return summary


def _write_final(run_dir: Path, src: Path, chosen: Path | None, state, val_cb, tokenizer, cfg):
    """final/: the averaged checkpoints when that wins on val, else `src` re-saved as one plain model."""
    final = run_dir / "final"
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

    out = update_json(run_dir / "summary.json", fields)
    write_model_card(run_dir)  # over TRL's generic card, and kept current with the summary
    return out


def summarize_run(cfg: RunConfig, log=log) -> dict:
    """The base-vs-trained table on the run's test split, added to summary.json. One process: called
    at the end of a single-process run, or by `cli.py train` after a multi-process launch has ended."""
    from tasks.countdown.data import load_split

    from .data import Splits
    from .report import summarize

    run_dir = cfg.output_dir
    info = json.loads((run_dir / "run.json").read_text())
    if info.get("model") != "final":
        raise TrainError(f"{run_dir}: no final model to score (run.json has no model: final)")
    test_file = info["test_split"]
    splits = Splits(train=[], val=[], test=load_split(test_file), val_file=info.get("val_split"), test_file=test_file)
    t = time.time()
    table = summarize(run_dir, info["baseline"], splits, cfg, log=log)
    return write_summary(run_dir, table | {"summary_seconds": round(time.time() - t, 1)})
