"""Recipe YAML -> dataclasses -> TRL objects, in one direction, with `--set key=value` on top.

    python cli.py train --config train/recipes/grpo-1.5b.yaml --set learning_rate=1e-6 --dry-run

Three dataclasses, as in TRL's own scripts (`trl/scripts/grpo.py`) and open-r1: TRL's
`ModelConfig` (model path, dtype, attention, LoRA), our `ScriptArguments` (data, rewards,
cold start, validation) and `GRPOConfig`, a subclass of TRL's. A recipe is flat YAML whose
keys are the fields of the three. Values go through `HfArgumentParser`'s argparse types, so a
YAML file and a `--set` string are checked the same way: an unknown key or a value of the wrong
type is one `ConfigError` line naming the key.

trl is imported by this module: only the `train` command imports it, inside the command.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Literal

import trl
from transformers import HfArgumentParser

from common.errors import UserError
from common.run_dir import DEFAULT_RUN, RECIPE
from tasks.countdown.data import DEFAULT_OUT

from .decode_cache import KINDS as KV_CACHE_KINDS

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
DEFAULT_RECIPE = RECIPES_DIR / "tiny-cpu.yaml"
TINY_MODEL = "tiny"  # model_name_or_path value that means "build train.tiny_model locally"


class ConfigError(UserError, ValueError):
    """A recipe or override that cannot be used; the CLI prints it as one line."""


@dataclass
class ScriptArguments:
    """Everything a run needs besides the model and TRL's GRPO settings."""

    dataset: str = field(
        default=DEFAULT_OUT,
        metadata={"help": "A data dir with {train,val,test}.jsonl, a local .jsonl/.parquet file, a hub dataset id, "
                          "or 'synthetic'. A missing data dir is generated (synthetic) when dataset_source allows."},
    )
    dataset_source: str = field(
        default="synthetic",
        metadata={"help": "Where to build `dataset` from when it is a directory that does not exist yet: "
                          "'synthetic', a hub id or a local file (as `cli.py data --source`)."},
    )
    dataset_train_size: int = field(default=50_000, metadata={"help": "Train rows to build when generating."})
    dataset_val_size: int = field(default=500, metadata={"help": "Validation rows (checkpoint selection)."})
    dataset_test_size: int = field(default=500, metadata={"help": "Held-out test rows (final table only)."})
    dataset_seed: int = field(default=42, metadata={"help": "Seed of the split / generator."})
    max_prompt_length: int = field(
        default=256, metadata={"help": "Prompts longer than this many tokens are dropped (TRL 1.16 has no such field)."}
    )
    reward_funcs: list[str] = field(
        default_factory=lambda: ["format", "equation"],
        metadata={"help": "Names in tasks.countdown.rewards.REWARD_FUNCS."},
    )
    # Cold start (SFT on solver-written traces) before GRPO; 0 steps = start GRPO from the model as is.
    cold_start_steps: int = field(default=0, metadata={"help": "SFT optimizer steps before GRPO (0 = none)."})
    cold_start_learning_rate: float = field(default=1e-3, metadata={"help": "SFT peak learning rate."})
    cold_start_batch_size: int = field(default=32, metadata={"help": "SFT examples per step."})
    cold_start_lr_scheduler_type: str = field(default="cosine", metadata={"help": "SFT lr schedule."})
    cold_start_warmup_steps: float = field(default=0.03, metadata={"help": "SFT warmup: steps, or a share if < 1."})
    cold_start_max_minutes: float = field(default=0.0, metadata={"help": "Stop the SFT after this many minutes "
                                                                 "(0 = no cap)."})
    cold_start_traces: Literal["first", "diverse", "search", "until_hit"] = field(
        default="first", metadata={"help": "Which solution a trace shows: the solver's first, one drawn at random "
                                           "(seeded per task) from all of a task's solutions, or 'search': up to two "
                                           "computed attempts that miss, each marked 'no', then the first solution; "
                                           "'until_hit': as many misses as a coin flip gives (a 40% chance of "
                                           "the hit each attempt, at most 4 misses with 3 numbers, 2 with 4; with "
                                           "reversed digits each attempt also writes its value forward and the "
                                           "target: '56>65|65')."})
    think_digits: Literal["forward", "reversed"] = field(
        default="forward", metadata={"help": "How the traces (and the arithmetic lines) write each step's value: "
                                             "'reversed' writes its digits least-significant first."})
    cold_start_arithmetic_lines: int = field(
        default=0, metadata={"help": "Lines of 8 solver steps (values learned, operands shown) mixed into the cold "
                                     "start's traces, so a model from scratch learns to compute (0 = none)."})
    cold_start_max_traces: int = field(
        default=0, metadata={"help": "Cap on solver traces for SFT (0 = steps x batch size, disjoint from GRPO's)."}
    )
    # Curriculum: GRPO only on prompts the starting policy solves sometimes (train/curriculum.py).
    grpo_prompt_filter: Literal["none", "solvable_sometimes"] = field(
        default="none",
        metadata={"help": "'none', or 'solvable_sometimes': sample the starting policy on a pool of training prompts "
                          "and keep those with 0 < hits < samples (groups with reward spread)."},
    )
    grpo_filter_pool: int = field(default=2048, metadata={"help": "Training prompts the filter samples."})
    grpo_filter_samples: int = field(default=8, metadata={"help": "Completions per prompt in the filter."})
    dynamic_sampling: bool = field(
        default=False,
        metadata={"help": "DAPO dynamic sampling (train/dynamic_sampling.py): train each step only on groups "
                          "with reward spread, generating more prompts to refill it."})
    dynamic_sampling_max_rounds: int = field(
        default=4, metadata={"help": "Generation rounds a step may spend refilling its live groups."})
    dynamic_sampling_rounds_per_call: int = field(
        default=1,
        metadata={"help": "Rounds generated together in one call (at most dynamic_sampling_max_rounds): the same "
                          "prompts and keep rule, fewer and larger generation calls; a step that needed fewer "
                          "rounds generates the rest anyway (train/dynamic_sampling.py)."})
    generation_dtype: Literal["auto", "bfloat16"] = field(
        default="auto",
        metadata={"help": "CPU runs without vLLM: 'bfloat16' samples GRPO's rollouts (and the curriculum's) from a "
                          "bf16 copy of the policy with eager attention, refreshed before each generation, as vLLM "
                          "does on GPUs (train/generation_copy.py); 'auto': TRL generates with the training model."})
    kv_cache: Literal[KV_CACHE_KINDS] = field(
        default="shared",
        metadata={"help": "KV cache of `generate` on a CPU (rollouts, curriculum, validation): 'buffer' writes into "
                          "spare room instead of copying the cache at every token, the same tokens; 'shared' also "
                          "prefills each run of identical prompts (a GRPO group, the curriculum's samples) once, the "
                          "same logits up to rounding (train/decode_cache.py); 'dynamic' is transformers' own."})
    shared_prompt_loss: bool = field(
        default=False,
        metadata={"help": "CPU runs in one process: GRPO's loss forward computes each group's prompt once and runs "
                          "the group's completions on its cached keys and values, TRL's log-probs and gradient up to "
                          "rounding (train/shared_prompt_loss.py)."})
    # Greedy accuracy on the validation split while training: picks the checkpoint, never the test split.
    validate: bool = field(default=True, metadata={"help": "Measure greedy val accuracy while training."})
    val_steps: int = field(default=0, metadata={"help": "Greedy val accuracy every N steps (0 = at saves only)."})
    val_limit: int = field(default=200, metadata={"help": "Val tasks scored each time (0 = whole split)."})
    eval_max_new_tokens: int = field(default=64, metadata={"help": "Greedy tokens per task in val/test scoring."})
    eval_batch_size: int = field(default=125, metadata={"help": "Tasks per greedy generate() batch."})
    average_checkpoints: bool = field(
        default=False,
        metadata={"help": "After GRPO, also score the weight average of the kept full-model checkpoints on the "
                          "val split; final/ is the average when it beats the best single checkpoint."})
    final_eval: bool = field(default=True, metadata={"help": "Score baseline and trained model on the test split."})
    final_eval_limit: int = field(default=0, metadata={"help": "Test tasks scored in the summary (0 = all)."})
    final_eval_temperature: float = field(
        default=0.0,
        metadata={"help": "Also score both models with one sampled completion per test task at this temperature "
                          "(0 = greedy only). GRPO trains the sampled policy; greedy decoding hides part of that."})
    eval_backend: str = field(
        default="auto",
        metadata={"help": "Summary scorer: 'auto' (evaluation.runner.evaluate_model if present, else greedy HF), "
                          "'lm-eval' or 'greedy'."},
    )
    torch_num_threads: int = field(
        default=0,
        metadata={"help": "CPU threads for torch (0 = auto: OMP_NUM_THREADS when set, else every core this process "
                          "may use, shared among the node's processes; common.hardware.cpu_threads). The same seed "
                          "and thread count give the same run; another thread count sums in another order."},
    )
    max_train_minutes: float = field(default=0.0, metadata={"help": "Stop GRPO after this many minutes (0 = no cap)."})


@dataclass
class GRPOConfig(trl.GRPOConfig):
    """TRL's GRPOConfig with this project's defaults (subclassed, not wrapped, as in open-r1)."""

    output_dir: str | None = field(default=str(DEFAULT_RUN), metadata={"help": "The run directory."})
    logging_steps: float = field(default=2, metadata={"help": "Log every N steps."})


DATACLASSES = (trl.ModelConfig, ScriptArguments, GRPOConfig)


class _Parser(HfArgumentParser):
    """HfArgumentParser whose errors raise (argparse would print usage and exit 2)."""

    def error(self, message):
        raise ConfigError(message)


def build_parser() -> _Parser:
    return _Parser(DATACLASSES, allow_abbrev=False, exit_on_error=False)


def known_fields() -> dict[str, dataclasses.Field]:
    out = {}
    for dc in DATACLASSES:
        for f in dataclasses.fields(dc):
            if f.init:
                out.setdefault(f.name, f)
    return out


def _is_list(f: dataclasses.Field) -> bool:
    return "list[" in str(f.type)


def _unknown(key: str, fields: dict) -> ConfigError:
    close = difflib.get_close_matches(key, fields, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ConfigError(f"unknown config key '{key}'{hint}")


def read_recipe(path: str | Path) -> dict:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"recipe not found: {p}")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: invalid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a recipe is a flat YAML mapping of key: value")
    return data


def parse_overrides(pairs: list[str] | tuple[str, ...]) -> dict:
    """`key=value` strings -> {key: raw string}; the value's type is checked later with the recipe's."""
    import yaml

    out = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got '{pair}'")
        raw = raw.strip()
        out[key] = yaml.safe_load(raw) if raw[:1] in "[{" else raw
    return out


def _to_argv(values: dict, fields: dict) -> list[str]:
    argv: list[str] = []
    for key, value in values.items():
        if key not in fields:
            raise _unknown(key, fields)
        f = fields[key]
        if value is None:
            continue  # "null" means "the default", which is None for every optional field used here
        if isinstance(value, dict):
            argv += [f"--{key}", json.dumps(value)]
        elif isinstance(value, (list, tuple)):
            argv += [f"--{key}", *(str(v) for v in value)] if value else []
        elif isinstance(value, bool):
            argv += [f"--{key}", "true" if value else "false"]
        elif isinstance(value, str) and _is_list(f) and "," in value:
            argv += [f"--{key}", *(v.strip() for v in value.split(",") if v.strip())]
        else:
            argv += [f"--{key}", str(value)]
    return argv


@dataclass
class RunConfig:
    model: trl.ModelConfig
    script: ScriptArguments
    grpo: GRPOConfig
    explicit: dict  # the recipe + overrides, typed: what config.yaml records
    recipe_path: str | None = None

    @property
    def output_dir(self) -> Path:
        return Path(self.grpo.output_dir)


def _plain(v):
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def resolve(recipe: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (),
            neutralise_gpu_checks: bool = False, num_processes: int = 1) -> RunConfig:
    """Load a recipe, apply overrides, build the three dataclasses (GRPOConfig's own checks run).

    `neutralise_gpu_checks` (dry-run on a machine without a GPU only): bf16/fp16/tf32 are
    validated by their type here, then switched off before TrainingArguments checks the hardware,
    so that the rest of GRPOConfig's validation (batch arithmetic, loss, vLLM fields) still runs.
    """
    path = Path(recipe) if recipe else DEFAULT_RECIPE
    values = read_recipe(path)
    values.update(parse_overrides(overrides))
    fields = known_fields()
    parser = build_parser()
    argv = _to_argv(values, fields)
    try:
        ns, rest = parser.parse_known_args(argv)
    except argparse.ArgumentError as e:
        raise ConfigError(_argparse_msg(str(e))) from None
    except ConfigError as e:
        raise ConfigError(_argparse_msg(str(e))) from None
    if rest:
        raise ConfigError(f"could not parse {' '.join(rest)}")
    ns = vars(ns)
    explicit = {k: _plain(ns[k]) for k in values if k in ns and values[k] is not None}
    if neutralise_gpu_checks:
        for k in ("bf16", "fp16", "tf32"):
            ns[k] = False if k != "tf32" else None
        ns["use_cpu"] = True
    if num_processes > 1 and ns.get("generation_batch_size") is None and ns.get("steps_per_generation") is None:
        # GRPOConfig derives the generation batch from the *current* world size (1 in a dry run);
        # give it the batch the N-process launch will have, so TRL checks the real arithmetic.
        ns["generation_batch_size"] = (ns["per_device_train_batch_size"] * num_processes
                                       * ns["gradient_accumulation_steps"])
    objs = []
    for dc in DATACLASSES:
        keys = {f.name for f in dataclasses.fields(dc) if f.init}
        try:
            objs.append(dc(**{k: v for k, v in ns.items() if k in keys}))
        except (ValueError, TypeError, ImportError) as e:
            raise ConfigError(f"{dc.__name__}: {str(e).strip().splitlines()[0]}") from None
    model, script, grpo = objs
    if script.generation_dtype != "auto" and (grpo.use_vllm or not grpo.use_cpu or model.use_peft):
        raise ConfigError(f"generation_dtype={script.generation_dtype} is for CPU runs of a whole model without vLLM "
                          "(use_cpu: true, use_vllm: false, use_peft: false); on GPUs vLLM already generates in bf16")
    if script.shared_prompt_loss and not grpo.use_cpu:
        raise ConfigError("shared_prompt_loss is for CPU runs (use_cpu: true); the GPU recipes do not set it")
    if script.shared_prompt_loss and grpo.gradient_checkpointing:
        raise ConfigError("shared_prompt_loss needs gradient_checkpointing: false (a checkpointed layer drops the "
                          "prompt's cached keys and values)")
    if script.dynamic_sampling_rounds_per_call < 1:
        raise ConfigError("dynamic_sampling_rounds_per_call must be at least 1")
    local = grpo.generation_batch_size // (num_processes if num_processes > 1 else grpo.world_size)
    if script.dynamic_sampling and script.dynamic_sampling_rounds_per_call > 1 and local % grpo.num_generations:
        raise ConfigError(f"dynamic_sampling_rounds_per_call > 1 needs each process's {local} generation rows "
                          f"to hold whole groups of num_generations = {grpo.num_generations}")
    unknown_rewards = [r for r in script.reward_funcs if r not in _reward_names()]
    if unknown_rewards:
        raise ConfigError(f"unknown reward function(s) {unknown_rewards}; known: {sorted(_reward_names())}")
    return RunConfig(model, script, grpo, explicit, str(path))


def _reward_names():
    from tasks.countdown.rewards import REWARD_FUNCS

    return REWARD_FUNCS


def _argparse_msg(msg: str) -> str:
    # "argument --learning_rate: invalid float value: 'x'" -> "learning_rate: invalid float value: 'x'"
    import re

    return re.sub(r"^argument --([\w]+)(/--[\w-]+)?: ", r"\1: ", msg.strip())


def save_resolved(cfg: RunConfig, run_dir: Path) -> None:
    """config.yaml: the recipe with every override applied (re-runnable with --config);
    resolved_args.json: every field of the three dataclasses after their own post-processing."""
    import yaml

    header = (f"# Resolved from {cfg.recipe_path} plus --set overrides; re-run with\n"
              f"#   python cli.py train --config {run_dir / RECIPE}\n")
    (run_dir / RECIPE).write_text(header + yaml.safe_dump(cfg.explicit, sort_keys=False))
    full = {"model": dataclasses.asdict(cfg.model), "script": dataclasses.asdict(cfg.script),
            "grpo": cfg.grpo.to_dict()}
    (run_dir / "resolved_args.json").write_text(json.dumps(full, indent=2, default=str) + "\n")
