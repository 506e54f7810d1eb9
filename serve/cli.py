"""`cli.py serve` and `cli.py demo`: a checkpoint (or run directory) behind vLLM's
OpenAI-compatible server, and the Gradio demo in front of it.

    python cli.py serve --model runs/tiny-r1-countdown                 # http://127.0.0.1:8000/v1
    python cli.py serve --model runs/x/checkpoint-200 --port 8001 --api-key s3cret -- --max-num-seqs 64
    python cli.py demo --base-url http://127.0.0.1:8000 --api-key s3cret --run-dir runs/tiny-r1-countdown
    python cli.py demo                                                 # serves runs/tiny-r1-countdown itself

Heavy imports (vLLM, Gradio, openai) stay inside the commands so `cli.py --help` is instant.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import click

from common.run_dir import DEFAULT_RUN, RunDirError, find_default_run, is_run_dir, resolve_model_dir, run_split

from .served_name import served_name
from .server import (DEFAULT_HEALTH_TIMEOUT, DEFAULT_HOST, DEFAULT_PORT, PARSER_NAME, ServerConfig, VLLMServer,
                     stop_on_signals)

EXAMPLE_TASK = ([19, 36, 55, 7], 65)


def _server_options(f):
    """Options shared by `serve` and the server `demo` starts itself."""
    for opt in reversed([
        click.option("--api-key", envvar="MINI_R1_API_KEY", default=None,
                     help="Require this key (Authorization: Bearer ...) on /v1/*. Env: MINI_R1_API_KEY."),
        click.option("--max-model-len", type=click.IntRange(16), default=None,
                     help="Context length (prompt + completion); default: the model's."),
        click.option("--dtype", type=click.Choice(["auto", "float32", "bfloat16", "float16"]), default=None,
                     help="Weights/activations dtype. Default: float32 on CPU (what the tiny model trains in), "
                          "vLLM's auto on GPU."),
        click.option("--reasoning-parser", default=PARSER_NAME, show_default=True,
                     help=f"vLLM reasoning parser splitting <think>…</think> into 'reasoning': '{PARSER_NAME}' "
                          "(the project's, splits at the text </think>: any tokenizer), a vLLM one, or 'none'."),
        click.option("--health-timeout", type=click.FloatRange(1), default=DEFAULT_HEALTH_TIMEOUT, show_default=True,
                     help="Seconds to wait for /health before giving up (the log tail is shown)."),
        click.option("--log-file", type=click.Path(dir_okay=False), default=None,
                     help="Where the vLLM server's output goes (default: a temp file, printed)."),
    ]):
        f = opt(f)
    return f


def _config(model, host, port, api_key, max_model_len, dtype, reasoning_parser, name, extra) -> ServerConfig:
    model_dir = resolve_model_dir(model)
    return ServerConfig(
        model_dir=model_dir, served_name=name or served_name(model_dir), host=host, port=port, api_key=api_key,
        max_model_len=max_model_len, dtype=dtype,
        reasoning_parser=None if reasoning_parser in (None, "", "none") else reasoning_parser,
        extra_args=tuple(extra),
    )


@click.command("serve", context_settings={"ignore_unknown_options": True, "help_option_names": ["-h", "--help"]})
@click.option("--model", "model", required=True, type=click.Path(),
              help="A model/checkpoint directory, or a run directory (uses run.json's model or the newest checkpoint).")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Bind address (loopback by default).")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--served-model-name", "name", default=None,
              help="Name in /v1/models and requests' 'model' (default: the run's name).")
@_server_options
@click.argument("vllm_args", nargs=-1, type=click.UNPROCESSED)
def serve(model, host, port, name, api_key, max_model_len, dtype, reasoning_parser, health_timeout, log_file,
          vllm_args):
    """Serve a checkpoint with vLLM's OpenAI-compatible server until Ctrl-C.

    Anything after `--` goes to `vllm serve` unchanged (e.g. `-- --max-num-seqs 64`).
    """
    cfg = _config(model, host, port, api_key, max_model_len, dtype, reasoning_parser, name, vllm_args)
    server = VLLMServer(cfg, log_path=log_file)
    click.echo(f"serving {cfg.model_dir} as '{cfg.served_name}' (vLLM log: {server.log_path})", err=True)
    with stop_on_signals():
        try:
            server.start()
            server.wait_healthy(timeout=health_timeout)
            click.echo(ready_message(server.base_url, cfg.served_name, api_key))
            code = server.proc.wait()
            raise click.ClickException(f"vLLM server exited with code {code}; log tail ({server.log_path}):\n"
                                       f"{server.log_tail()}")
        except KeyboardInterrupt:
            click.echo("stopping the server...", err=True)
        finally:
            server.stop()
    click.echo("server stopped", err=True)


def ready_message(base_url: str, model: str, api_key: str | None) -> str:
    """The URL and example requests: the exact training prompt (curl and the OpenAI client), and
    the plain request the served chat template completes to the same prompt."""
    from tasks.countdown.prompt import build_messages, user_message

    from .client import CONTINUE_PREFILL

    numbers, target = EXAMPLE_TASK
    body = {"model": model, "messages": build_messages(numbers, target), "max_tokens": 256, **CONTINUE_PREFILL}
    plain = {"model": model, "messages": [{"role": "user", "content": user_message(numbers, target)}],
             "max_tokens": 256}
    auth = f" -H 'Authorization: Bearer {api_key}'" if api_key else ""
    key = repr(api_key) if api_key else '"EMPTY"'
    return f"""
ready: {base_url}/v1  (model '{model}'; health: {base_url}/health; Ctrl-C stops it)
Requests without a temperature are greedy, as `evaluate` scores the model.

# the training prompt: system, user, and the assistant turn prefilled up to <think>, continued
curl {base_url}/v1/chat/completions -H 'Content-Type: application/json'{auth} \\
  -d {shlex.quote(json.dumps(body))}

# a plain request: the served chat template adds the system prompt and the prefill itself
curl {base_url}/v1/chat/completions -H 'Content-Type: application/json'{auth} \\
  -d {shlex.quote(json.dumps(plain))}

python - <<'EOF'
from openai import OpenAI
from tasks.countdown.prompt import build_messages
client = OpenAI(base_url="{base_url}/v1", api_key={key})
r = client.chat.completions.create(model="{model}", messages=build_messages({numbers}, {target}),
    max_tokens=256, extra_body={CONTINUE_PREFILL!r})
print("reasoning:", r.choices[0].message.reasoning)   # the <think> part
print("content:", r.choices[0].message.content)       # after </think>: <answer>...</answer>
EOF
"""


@click.command("demo", context_settings={"ignore_unknown_options": True, "help_option_names": ["-h", "--help"]})
@click.option("--base-url", default=None,
              help="An OpenAI-compatible server to use (e.g. http://127.0.0.1:8000). Without it, the demo "
                   "starts vLLM itself on --model.")
@click.option("--model", "model", default=None, type=click.Path(),
              help=f"Checkpoint or run directory to serve when no --base-url is given (default: {DEFAULT_RUN}).")
@click.option("--model-name", default=None, help="Model name at --base-url (default: the first in /v1/models).")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Where the Gradio page listens.")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True, help="Gradio port.")
@click.option("--share", is_flag=True, help="Also open a public Gradio share link (off by default).")
@click.option("--max-tokens", "max_tokens_cap", type=click.IntRange(1, 32768), default=512, show_default=True,
              help="Cap on max_tokens for any request from the page.")
@click.option("--concurrency", type=click.IntRange(1), default=4, show_default=True,
              help="Requests the page runs at once (Gradio default_concurrency_limit).")
@click.option("--queue-size", type=click.IntRange(1), default=32, show_default=True,
              help="Waiting requests beyond which the page says 'queue full' (Gradio max_size).")
@click.option("--server-port", type=click.IntRange(0, 65535), default=0,
              help="Port of the vLLM server the demo starts (0: a free one).")
@click.option("--test-split", default=None, type=click.Path(),
              help="test.jsonl (or data dir) to draw random puzzles from (default: the run's, else synthetic).")
@click.option("--run-dir", default=None, type=click.Path(file_okay=False),
              help="The run the Run tab shows: its table, curves, alarms and test samples (default: the run "
                   "--model names; with --base-url, none unless given).")
@_server_options
@click.argument("vllm_args", nargs=-1, type=click.UNPROCESSED)
def demo(base_url, model, model_name, host, port, share, max_tokens_cap, concurrency, queue_size, server_port,
         test_split, run_dir, api_key, max_model_len, dtype, reasoning_parser, health_timeout, log_file, vllm_args):
    """Gradio demo: a puzzle, the model's streamed reasoning, the verifier's verdict; a chat tab; the run's results."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a loopback demo
    from .puzzle import PuzzleSource
    from .server import free_port, port_in_use

    if port_in_use(host, port):
        raise click.ClickException(f"port {port} on {host} is already in use: pick another with --port")
    if run_dir is not None and not is_run_dir(Path(run_dir)):
        raise click.BadParameter(f"{run_dir} is not a run directory (no run.json): give the folder "
                                 "`cli.py train` wrote, e.g. runs/tiny-r1-countdown", param_hint="--run-dir")
    server = None
    with stop_on_signals():
        try:
            if base_url is None:
                run = Path(model) if model else _default_run()
                if run_dir is None and is_run_dir(run):
                    run_dir = run
                if test_split is None:
                    test_split = _run_test_split(run)
                cfg = _config(run, DEFAULT_HOST, server_port or free_port(), api_key, max_model_len, dtype,
                              reasoning_parser, None, vllm_args)
                server = VLLMServer(cfg, log_path=log_file)
                click.echo(f"starting vLLM on {cfg.model_dir} (log: {server.log_path})", err=True)
                server.start()
                server.wait_healthy(timeout=health_timeout)
                base_url, model_name = server.base_url, cfg.served_name
            else:
                _refuse_server_options()
                if test_split is None and run_dir is not None:
                    test_split = _run_test_split(Path(run_dir))
            client, model_name = _connect(base_url, api_key, model_name)
            from .demo import build_app

            app = build_app(client, model_name, PuzzleSource(test_split), max_tokens_cap,
                            run_dir=Path(run_dir) if run_dir else None)
            app.queue(default_concurrency_limit=concurrency, max_size=queue_size)
            click.echo(f"demo for '{model_name}' at {base_url} → http://{host}:{port}", err=True)
            app.launch(server_name=host, server_port=port, share=share, show_error=False, quiet=True)
        except KeyboardInterrupt:
            pass
        finally:
            if server is not None:
                click.echo("stopping the vLLM server...", err=True)
                server.stop()


# The demo's options that configure the vLLM server it starts; with --base-url there is none to configure.
SERVER_ONLY = ("model", "vllm_args", "server_port", "max_model_len", "dtype", "reasoning_parser", "health_timeout",
               "log_file")


def _refuse_server_options() -> None:
    from click.core import ParameterSource

    ctx = click.get_current_context()
    given = [p for p in ctx.command.params if p.name in SERVER_ONLY
             and ctx.get_parameter_source(p.name) not in (ParameterSource.DEFAULT, None)]
    if given:
        names = ", ".join(p.opts[0] if p.opts and p.opts[0].startswith("-") else "extra vLLM arguments"
                          for p in given)
        raise click.UsageError(f"{names}: only for the server the demo starts itself; with --base-url the "
                               "server is already running (configure it where it was started)")


def _default_run() -> Path:
    run = find_default_run()
    if run is not None:
        return run
    raise RunDirError(
        f"no trained model at {DEFAULT_RUN}: run `make train` first, or pass --model PATH "
        "(checkpoint or run directory) or --base-url URL (a running server)"
    )


def _run_test_split(run: Path) -> str | None:
    try:
        split = run_split(run)
    except RunDirError:
        return None
    return str(split) if split and split.exists() else None


def _connect(base_url: str, api_key: str | None, model_name: str | None):
    """An OpenAI client for the server, checked with /v1/models so a wrong URL or key is one
    clear line now rather than an error on the first click."""
    import openai

    url = base_url.rstrip("/")
    if not url.endswith("/v1"):
        url += "/v1"
    client = openai.OpenAI(base_url=url, api_key=api_key or "EMPTY", timeout=300, max_retries=0)
    try:
        models = [m.id for m in client.models.list()]
    except openai.AuthenticationError:
        raise click.ClickException(f"{url} refused the API key: pass --api-key") from None
    except openai.APIError as e:
        raise click.ClickException(f"cannot list models at {url}: {type(e).__name__}: "
                                   f"{str(e).splitlines()[0] if str(e) else ''}") from None
    if model_name is None:
        if not models:
            raise click.ClickException(f"{url} serves no model")
        model_name = models[0]
    elif models and model_name not in models:
        raise click.ClickException(f"{url} does not serve '{model_name}' (it serves: {', '.join(models)})")
    return client, model_name
