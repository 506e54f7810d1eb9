#!/usr/bin/env python
"""mini-r1: GRPO on Countdown — data, train, evaluate, serve, demo, verify.

    python cli.py --help
    python cli.py data --source synthetic
    python cli.py verify --numbers 19,36,55,7 --target 65 --equation "55+36-7-19"

Each subcommand lives beside the code it drives and imports its heavy machinery (torch, TRL,
vLLM, lm-eval, Gradio) inside the command, so `--help` and `verify` start instantly.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from common.errors import UserError

# name -> "module:attribute"; the module is imported only when the command is used or listed.
COMMANDS = {
    "data": "tasks.countdown.cli:data",
    "train": "train.cli:train",
    "evaluate": "evaluation.cli:evaluate",
    "serve": "serve.cli:serve",
    "demo": "serve.cli:demo",
    "verify": "tasks.countdown.cli:verify",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as e:
            if e.name and module.startswith(e.name):
                return _unavailable(name, f"its module {module} is missing from this checkout")
            raise

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except UserError as e:  # the library's one-line errors become click's `Error: ...`, exit 1
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as e:  # noqa: BLE001 - one line for the user, the traceback on request
            if os.environ.get("MINI_R1_DEBUG"):
                raise
            msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
            click.echo(f"error: {type(e).__name__}: {msg} (set MINI_R1_DEBUG=1 for the traceback)", err=True)
            sys.exit(1)


def _unavailable(name: str, why: str) -> click.Command:
    @click.command(name, help=f"(unavailable: {why})", context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def cmd(args):
        raise click.ClickException(f"'{name}' is unavailable: {why}")

    return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """mini-r1: reproduce DeepSeek-R1-style GRPO on Countdown, then evaluate and serve it."""


if __name__ == "__main__":
    main()
