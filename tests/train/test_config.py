"""Recipe -> dataclasses -> TRL GRPOConfig, overrides, and the errors a user meets first."""

from __future__ import annotations

import pytest

from train.config import RECIPES_DIR, ConfigError, resolve, save_resolved


def test_default_recipe_builds_trl_config():
    cfg = resolve()
    import trl

    assert isinstance(cfg.grpo, trl.GRPOConfig)
    assert cfg.model.model_name_or_path == "tiny"
    assert cfg.script.cold_start_steps > 0
    # TRL derives the generation batch from the completion batch: must hold whole prompt groups
    assert cfg.grpo.generation_batch_size % cfg.grpo.num_generations == 0


def test_default_recipe_computes_in_bf16_on_fp32_weights_like_the_gpu_recipe():
    """The embedded run computes as the GPU recipe does (bf16 matrix products, fp32 master weights
    for AdamW): under accelerate that is CPU autocast, as the tests' shrunk recipe runs it."""
    from accelerate import Accelerator

    from train.modeling import master_dtype

    import yaml

    cfg = resolve()
    assert yaml.safe_load((RECIPES_DIR / "grpo-1.5b.yaml").read_text())["bf16"] is True
    assert cfg.grpo.use_cpu and cfg.grpo.bf16
    assert master_dtype(cfg.model.dtype) == "float32"
    acc = Accelerator(cpu=True, mixed_precision="bf16" if cfg.grpo.bf16 else "no")
    assert acc.native_amp  # CPU autocast, not a silent fp32 fallback


def test_overrides_are_typed_and_win():
    cfg = resolve(None, ["learning_rate=3e-5", "max_steps=7", "reward_funcs=equation", "bf16=false"])
    assert cfg.grpo.learning_rate == pytest.approx(3e-5) and cfg.grpo.max_steps == 7
    assert cfg.script.reward_funcs == ["equation"]
    assert cfg.explicit["max_steps"] == 7


@pytest.mark.parametrize("override, message", [
    ("learnin_rate=1", "unknown config key 'learnin_rate' (did you mean 'learning_rate'?)"),
    ("learning_rate=fast", "learning_rate: invalid float value: 'fast'"),
    ("max_steps=1.5", "max_steps: invalid int value: '1.5'"),
    ("reward_funcs=nope", "unknown reward function(s) ['nope']"),
    ("num_generations=3", "must be divisible by num_generations (3)"),
    ("novalue", "--set expects key=value"),
])
def test_bad_overrides_are_one_clear_error(override, message):
    with pytest.raises(ConfigError) as e:
        resolve(None, [override])
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_rounds_in_one_call_need_whole_groups_on_each_process():
    """Two processes of 24 rows each hold 48 rows, 3 groups of 16, but one group spans them: one round a
    call handles that, several rounds side by side in one call cannot (their groups would interleave)."""
    two = ["per_device_train_batch_size=24"]
    assert resolve(None, two + ["dynamic_sampling_rounds_per_call=1"], num_processes=2)
    with pytest.raises(ConfigError) as e:
        resolve(None, two, num_processes=2)  # the recipe's 3 rounds a call
    assert "to hold whole groups of num_generations = 16" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="dynamic_sampling_rounds_per_call must be at least 1"):
        resolve(None, ["dynamic_sampling_rounds_per_call=0"])


def test_unknown_key_in_recipe(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("max_steps: 3\nnot_a_field: 1\n")
    with pytest.raises(ConfigError, match="unknown config key 'not_a_field'"):
        resolve(p)


@pytest.mark.parametrize("name", ["grpo-1.5b.yaml", "grpo-1.5b-lora.yaml", "tiny-cpu.yaml"])
def test_every_recipe_value_reaches_the_objects_that_use_it(name):
    """Each key of the YAML lands, with its value, on the TRL/transformers object that reads it
    (ModelConfig, the project's script arguments or GRPOConfig): a key parsed into the wrong
    object, dropped, or overridden by a default fails here."""
    import math

    import yaml

    # GPU recipes: bf16 is neutralised only because this machine has no GPU (as in --dry-run)
    cfg = resolve(RECIPES_DIR / name, neutralise_gpu_checks=True)
    recipe = yaml.safe_load((RECIPES_DIR / name).read_text())
    assert recipe, name
    for key, want in recipe.items():
        if key in ("bf16", "tf32"):  # neutralised above (GPU-only checks), the values allowed to differ here
            continue
        owners = [o for o in (cfg.model, cfg.script, cfg.grpo) if hasattr(o, key)]
        assert owners, f"{name}: {key} reaches no config object"
        got = getattr(owners[-1] if key in vars(cfg.grpo) else owners[0], key)
        got = got.value if hasattr(got, "value") else got
        if key == "report_to":  # transformers reads "none" as no integration, one name as a list of one
            want = [] if want == "none" else [want] if isinstance(want, str) else want
        assert got is not None, f"{name}: {key} resolved to None, the recipe says {want!r}"
        if isinstance(want, float) and isinstance(got, (int, float)):
            assert math.isclose(got, want), (key, got, want)
        elif key == "output_dir" or key == "dataset":
            assert str(got).endswith(str(want).removeprefix("./")), (key, got, want)
        else:
            assert got == want or (isinstance(got, list) and [getattr(x, "value", x) for x in got] == want), \
                (key, got, want)


def test_reference_batch_is_24_prompts_of_8():
    cfg = resolve(RECIPES_DIR / "grpo-1.5b.yaml", neutralise_gpu_checks=True)
    g = cfg.grpo
    completions = g.per_device_train_batch_size * 8 * g.gradient_accumulation_steps  # 8 GPUs
    assert (completions, completions // g.num_generations) == (192, 24)
    assert g.max_steps == 450 and g.learning_rate == 5e-7 and g.beta == 0.001
    assert g.gradient_checkpointing_kwargs == {"use_reentrant": False}
    lora = resolve(RECIPES_DIR / "grpo-1.5b-lora.yaml", neutralise_gpu_checks=True).grpo
    assert lora.per_device_train_batch_size * 1 * lora.gradient_accumulation_steps == 192


def test_saved_config_reloads_to_the_same_values(tmp_path):
    cfg = resolve(None, ["max_steps=9", "learning_rate=2e-5"])
    save_resolved(cfg, tmp_path)
    again = resolve(tmp_path / "config.yaml")
    assert again.explicit == cfg.explicit
    assert (tmp_path / "resolved_args.json").is_file()


def test_the_embedded_default_trains_steps_not_minutes():
    """No wall-clock cap in the main job's recipe: the same seed trains the same steps on any machine
    (caps are opt-in, and a run they shorten says so: train/phases.py)."""
    cfg = resolve(None)
    assert cfg.script.cold_start_max_minutes == 0 and cfg.script.max_train_minutes == 0
    assert cfg.script.cold_start_steps > 0 and cfg.grpo.max_steps > 0
