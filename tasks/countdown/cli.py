"""`cli.py data` and `cli.py verify`: the task's own commands. Only click and the stdlib at
import time; `verify` must answer in well under a second."""

from __future__ import annotations

import json
import sys

import click

from .data import DEFAULT_OUT


def _parse_numbers(_ctx, _param, value):
    if value is None:
        return None
    parts = [p for p in value.replace(" ", ",").split(",") if p]
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers such as 19,36,55,7, got {value!r}") from None
    if not 1 <= len(nums) <= 16:
        raise click.BadParameter("give between 1 and 16 numbers")
    return nums


@click.command()
@click.option("--numbers", required=True, callback=_parse_numbers, help="Comma-separated, e.g. 19,36,55,7.")
@click.option("--target", required=True, type=int, help="The number to reach.")
@click.option("--equation", help="A bare equation, e.g. '55+36-7-19'.")
@click.option("--completion", help="A model completion; its last <answer>…</answer> is checked.")
def verify(numbers, target, equation, completion):
    """Check an answer with the project's one verifier; print the verdict as one JSON line.

    Give --equation, or --completion, or pipe a completion on stdin. Exit status: 0 when the
    answer is correct, 1 when it is not, 2 for bad arguments.
    """
    from .verifier import verify as verify_completion
    from .verifier import verify_equation

    if equation is not None and completion is not None:
        raise click.UsageError("give either --equation or --completion, not both")
    if equation is not None:
        verdict = verify_equation(equation, numbers, target)
    else:
        if completion is None:
            if sys.stdin is None or sys.stdin.isatty():
                raise click.UsageError("give --equation, --completion, or a completion on stdin")
            completion = sys.stdin.read(1 << 20)
        verdict = verify_completion(completion, numbers, target)
    click.echo(json.dumps(verdict.to_dict()))
    sys.exit(0 if verdict.ok else 1)


@click.command()
@click.option("--source", default=None, show_default="Jiayi-Pan/Countdown-Tasks-3to4",
              help="Hub dataset id, a local .jsonl/.json/.parquet file, or 'synthetic'.")
@click.option("--out", "out_dir", default=DEFAULT_OUT, show_default=True, type=click.Path(file_okay=False))
@click.option("--train-size", default=50_000, show_default=True, type=click.IntRange(min=0))
@click.option("--test-size", default=500, show_default=True, type=click.IntRange(min=0))
@click.option("--val-size", default=500, show_default=True, type=click.IntRange(min=0),
              help="Validation split for checkpoint selection (never the test split).")
@click.option("--seed", default=42, show_default=True, type=int)
def data(source, out_dir, train_size, test_size, val_size, seed):
    """Write train/val/test splits (JSONL, disjoint) and a manifest with their sha256."""
    from .data import DEFAULT_SOURCE, DataError, write_dataset

    source = source or DEFAULT_SOURCE
    with click.progressbar(length=train_size, label=f"generating {train_size} tasks", file=sys.stderr) \
            if source == "synthetic" else _NullBar() as bar:
        try:
            manifest = write_dataset(out_dir, source, train_size, test_size, val_size, seed, progress=bar.update)
        except DataError as e:
            raise click.ClickException(str(e)) from None
    sizes = ", ".join(f"{k} {v['rows']}" for k, v in manifest["splits"].items())
    click.echo(f"wrote {out_dir}: {sizes} (source {manifest['source']}, seed {seed}); manifest.json has the sha256s")


class _NullBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        pass
