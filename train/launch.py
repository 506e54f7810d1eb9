"""Multi-process launch and `--dry-run`: the exact `accelerate launch` command for N GPUs on M
nodes, and every check that needs no GPU (recipe, overrides, the GRPOConfig TRL builds, batch
arithmetic, the DeepSpeed config as DeepSpeed itself parses it, model and data reachability).

    python cli.py train --config train/recipes/grpo-1.5b.yaml --dry-run --num-gpus 8 --accelerate-config zero3
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from common.hardware import visible_gpus
from common.model_ref import looks_local_dir
from common.run_dir import newest_resumable_checkpoint

ACCELERATE_DIR = Path(__file__).resolve().parent / "accelerate"
ROOT = Path(__file__).resolve().parents[1]


def under_launcher() -> bool:
    return "LOCAL_RANK" in os.environ or "ACCELERATE_DYNAMO_BACKEND" in os.environ and "RANK" in os.environ


def accelerate_config_path(name: str | None, num_gpus: int, num_nodes: int) -> Path:
    if name is None:
        name = "multi-node" if num_nodes > 1 else ("ddp" if num_gpus > 1 else "ddp")
    p = Path(name)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_file():
            from .config import ConfigError

            raise ConfigError(f"accelerate config not found: {p}")
        return p
    p = ACCELERATE_DIR / f"{name}.yaml"
    if not p.is_file():
        from .config import ConfigError

        known = sorted(q.stem for q in ACCELERATE_DIR.glob("*.yaml"))
        raise ConfigError(f"unknown accelerate config '{name}' (known: {', '.join(known)}, or a .yaml path)")
    return p


def accelerate_command(recipe, overrides, num_gpus: int, num_nodes: int, accel_cfg: str | None,
                       resume: bool) -> list[str]:
    cfg_path = accelerate_config_path(accel_cfg, num_gpus, num_nodes)
    cmd = ["accelerate", "launch", "--config_file", str(cfg_path.relative_to(ROOT) if cfg_path.is_relative_to(ROOT)
                                                        else cfg_path),
           "--num_processes", str(num_gpus * num_nodes), "--num_machines", str(num_nodes)]
    if num_nodes > 1:
        cmd += ["--machine_rank", "${MACHINE_RANK}", "--main_process_ip", "${MAIN_PROCESS_IP}",
                "--main_process_port", "${MAIN_PROCESS_PORT:-29500}"]
    cmd += ["cli.py", "train"]
    if recipe:
        cmd += ["--config", str(recipe)]
    for o in overrides:
        cmd += ["--set", o]
    if resume:
        cmd.append("--resume")
    return cmd


def read_accelerate_config(path: Path) -> dict:
    import yaml

    from .config import ConfigError

    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML ({str(e).splitlines()[0]})") from None
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror}") from None
    if not isinstance(data, dict) or "distributed_type" not in data:
        raise ConfigError(f"{path}: not an accelerate config (no distributed_type)")
    return data


def deepspeed_check(accel_path: Path, cfg) -> str:
    """Parse the accelerate config; for DeepSpeed, build the DeepSpeed config through accelerate's
    DeepSpeedPlugin and have DeepSpeed's own DeepSpeedConfig parse it with this run's batch sizes."""
    from .config import ConfigError

    data = read_accelerate_config(accel_path)
    if data.get("distributed_type") != "DEEPSPEED":
        return f"{data.get('distributed_type')} ({data.get('num_processes')} processes in the file; overridden)"
    ds = data.get("deepspeed_config") or {}
    if not isinstance(ds, dict):
        raise ConfigError(f"{accel_path}: deepspeed_config must be a mapping")
    if ds.get("deepspeed_config_file"):
        import json

        f = Path(ds["deepspeed_config_file"])
        try:
            json.loads(f.read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(f"{accel_path}: deepspeed_config_file {f} does not parse "
                              f"({e.__class__.__name__}: {str(e).splitlines()[0]})") from None
        return f"DeepSpeed (config file {f}, parsed as JSON)"
    from accelerate.utils import DeepSpeedPlugin

    try:
        plugin = DeepSpeedPlugin(
            zero_stage=ds.get("zero_stage", 2),
            offload_optimizer_device=ds.get("offload_optimizer_device", "none"),
            offload_param_device=ds.get("offload_param_device", "none"),
            zero3_init_flag=ds.get("zero3_init_flag", False),
            zero3_save_16bit_model=ds.get("zero3_save_16bit_model", False),
            gradient_accumulation_steps=cfg.grpo.gradient_accumulation_steps,
        )
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"{accel_path}: invalid deepspeed_config ({e.__class__.__name__}: "
                          f"{str(e).strip().splitlines()[0] if str(e).strip() else ''})") from None
    conf = dict(plugin.deepspeed_config)
    g = cfg.grpo
    conf["train_micro_batch_size_per_gpu"] = g.per_device_train_batch_size
    conf["gradient_accumulation_steps"] = g.gradient_accumulation_steps
    conf.pop("train_batch_size", None)
    conf["bf16"] = {"enabled": data.get("mixed_precision") == "bf16"}
    # DeepSpeedConfig needs a world size; without torch.distributed it asks the launcher's env.
    env = {"WORLD_SIZE": os.environ.get("WORLD_SIZE"), "RANK": os.environ.get("RANK")}
    os.environ.setdefault("WORLD_SIZE", "1")
    os.environ.setdefault("RANK", "0")
    try:
        from deepspeed.runtime.config import DeepSpeedConfig

        parsed = DeepSpeedConfig(conf)
    except Exception as e:  # noqa: BLE001 - DeepSpeed raises assorted types for a bad config
        detail = "; ".join(x.strip() for x in str(e).strip().splitlines()[:3])[:240]
        raise ConfigError(f"{accel_path}: DeepSpeed rejects the config ({e.__class__.__name__}: {detail})") from None
    finally:
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
    return (f"DeepSpeed ZeRO-{parsed.zero_optimization_stage} (parsed by deepspeed.runtime.config.DeepSpeedConfig: "
            f"micro batch {parsed.train_micro_batch_size_per_gpu}, accumulation {parsed.gradient_accumulation_steps}, "
            f"bf16 {parsed.bfloat16_config.enabled})")


def dry_run_report(cfg, recipe, overrides, num_gpus: int, num_nodes: int, accel_cfg: str | None,
                   resume: bool) -> str:
    from .modeling import check_model

    g, s, m = cfg.grpo, cfg.script, cfg.model
    procs = num_gpus * num_nodes
    completions = g.per_device_train_batch_size * procs * g.gradient_accumulation_steps
    lines = [f"recipe: {cfg.recipe_path}" + (f" + {len(overrides)} override(s)" if overrides else "")]
    lines.append("GRPOConfig: built by TRL " + __import__("trl").__version__
                 + (" (bf16/fp16/tf32 switched off for this CPU-only check)" if not visible_gpus()[0] else ""))
    lines.append(f"model: {check_model(m.model_name_or_path, strict=False)}; dtype {m.dtype}, "
                 f"attention {m.attn_implementation}, LoRA {'r=%d' % m.lora_r if m.use_peft else 'off'}")
    lines.append(f"data: {_describe_dataset(s)}; rewards {s.reward_funcs}; max_prompt_length {s.max_prompt_length}")
    if s.cold_start_steps:
        lines.append(f"cold start: SFT {s.cold_start_steps} steps x {s.cold_start_batch_size}, "
                     f"lr {s.cold_start_learning_rate}")
    gen = "vLLM " + g.vllm_mode if g.use_vllm else "transformers generate"
    lines.append(f"GRPO: {g.max_steps} steps; per optimizer step {completions} completions = "
                 f"{g.per_device_train_batch_size} x {procs} processes x {g.gradient_accumulation_steps} accumulation "
                 f"= {completions // g.num_generations} prompts x {g.num_generations} generations; generation: {gen}")
    if completions % g.num_generations:
        from .config import ConfigError

        raise ConfigError(f"{completions} completions per step is not a multiple of num_generations "
                          f"{g.num_generations}")
    lines.append(f"optimizer: lr {g.learning_rate} {g.lr_scheduler_type.value if hasattr(g.lr_scheduler_type, 'value') else g.lr_scheduler_type}"
                 f", warmup {g.warmup_steps}, beta {g.beta}, loss {g.loss_type}, temperature {g.temperature}")
    lines.append(f"output: {g.output_dir} (save every {g.save_steps} steps, keep {g.save_total_limit}); "
                 f"report_to {g.report_to}")
    if resume:
        ck = newest_resumable_checkpoint(Path(g.output_dir)) if Path(g.output_dir).is_dir() else None
        lines.append(f"resume: {ck or 'no complete checkpoint yet (starts at step 0)'}")
    if procs > 1 or accel_cfg:
        path = accelerate_config_path(accel_cfg, num_gpus, num_nodes)
        lines.append(f"accelerate config: {path.name}: {deepspeed_check(path, cfg)}")
        cmd = accelerate_command(recipe, overrides, num_gpus, num_nodes, accel_cfg, resume)
    else:
        cmd = [sys.executable.split("/")[-1], "cli.py", "train"] + (["--config", str(recipe)] if recipe else []) + \
              [x for o in overrides for x in ("--set", o)] + (["--resume"] if resume else [])
    lines.append("command: " + " ".join(shlex.quote(c) if "$" not in c else f'"{c}"' for c in cmd))
    return "\n".join(lines)


def _describe_dataset(s) -> str:
    p = Path(s.dataset)
    if p.is_dir():
        return f"split dir {p}"
    if p.is_file():
        return f"local file {p}"
    if looks_local_dir(s.dataset):
        return f"{p} (absent: built from '{s.dataset_source}' at launch)"
    return f"hub dataset {s.dataset} (loaded at launch)"


def check_launch(cfg, num_gpus: int, accel_path: Path) -> dict:
    """Everything about a launch that can be wrong before any process or model starts: one
    ConfigError line each. Returns the parsed accelerate config."""
    from .config import ConfigError

    deepspeed_check(accel_path, cfg)  # parses the file (and DeepSpeed's config) or raises
    data = read_accelerate_config(accel_path)
    if cfg.script.generation_dtype != "auto" and data.get("distributed_type") == "DEEPSPEED":
        from .generation_copy import check_sharding

        check_sharding((data.get("deepspeed_config") or {}).get("zero_stage"))
    if cfg.grpo.use_cpu:
        return data
    have, bf16_ok, name = visible_gpus()
    if have == 0:
        raise ConfigError(f"--num-gpus {num_gpus}: no CUDA GPU is visible here (for CPU processes use a recipe "
                          "with use_cpu: true and --accelerate-config ddp-cpu)")
    if num_gpus > have:
        raise ConfigError(f"--num-gpus {num_gpus}, but this machine has {have} visible GPU(s)")
    if data.get("distributed_type") == "DEEPSPEED" and (cfg.grpo.bf16 or data.get("mixed_precision") == "bf16") \
            and not bf16_ok:
        raise ConfigError(f"{accel_path.name} runs ZeRO in bf16, which {name} does not support; "
                          "use --set bf16=false --set fp16=true --set dtype=float16 with a copy of the config "
                          "whose mixed_precision is fp16")
    return data


def _executable(cmd: list[str]) -> list[str]:
    """The printed command, made runnable: the venv's own `accelerate`, and ${VAR} / ${VAR:-default}
    filled in from the environment (a multi-node launch needs MACHINE_RANK and MAIN_PROCESS_IP)."""
    import re

    from .config import ConfigError

    def fill(arg: str) -> str:
        def sub(m):
            name, default = m.group(1), m.group(3)
            val = os.environ.get(name, default)
            if val is None:
                raise ConfigError(f"a {name} environment variable is needed for a multi-node launch")
            return val

        return re.sub(r"\$\{(\w+)(:-([^}]*))?\}", sub, arg)

    out = [fill(c) for c in cmd]
    local = Path(sys.executable).parent / out[0]
    if local.is_file():
        out[0] = str(local)
    return out


def launch(cfg, recipe, overrides, num_gpus: int, num_nodes: int, accel_cfg: str | None, resume: bool) -> int:
    """Start the N training processes and wait for them; their exit status."""
    import subprocess

    accel_path = accelerate_config_path(accel_cfg, num_gpus, num_nodes)
    check_launch(cfg, num_gpus, accel_path)
    cmd = accelerate_command(recipe, overrides, num_gpus, num_nodes, accel_cfg, resume)
    print("launching: " + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.Popen(_executable(cmd))
    try:
        return proc.wait()
    except KeyboardInterrupt:  # Ctrl-C reached the workers too (same process group): let them stop
        try:
            return proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            return 130
