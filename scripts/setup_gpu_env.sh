#!/usr/bin/env bash
# Creates or reuses .venv-gpu/ with the pinned GPU stack (requirements/gpu.lock.txt: vllm 0.31.0,
# transformers 5.17.0, CUDA torch 2.13.0) on a machine without a GPU, for `make test-gpu-set`: the
# suite under the pins a GPU user installs. The CUDA wheels import fine without a GPU (~8.6 GB).
# Idempotent: a stamp of the lock's hash skips the install when nothing changed.
# Usage: scripts/setup_gpu_env.sh   (needs .venv/ first, for its uv: `make setup`)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv-gpu"
LOCK=requirements/gpu.lock.txt
UV="$ROOT/.venv/bin/uv"
STAMP="$VENV/.mini-r1-stamp"
want=$(cat "$LOCK" pyproject.toml scripts/setup_gpu_env.sh | sha256sum | cut -c1-16)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && "$VENV/bin/python" -c "import torch, trl, vllm, tasks.countdown" 2>/dev/null; then
  exit 0
fi

[ -x "$UV" ] || { echo "error: $UV missing: run make setup first" >&2; exit 1; }
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), "mini-r1 GPU set is pinned for Python 3.11"' \
  || { echo "error: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
echo "[setup-gpu] installing the pinned GPU stack into .venv-gpu (first time: a minute or more, ~8.6 GB)" >&2
# No --find-links, unlike setup_env.sh: the local torch-2.13.0+cpu wheel there satisfies the lock's
# torch==2.13.0 too (a local version matches a plain pin), and uv would take it over PyPI's CUDA build
# a GPU user gets. No --compile-bytecode: this venv only runs the test suite, once in a while.
"$UV" pip sync --python "$VENV/bin/python" "$LOCK"
"$VENV/bin/python" -c 'import torch, sys; sys.exit(0 if torch.version.cuda else f"torch {torch.__version__} in .venv-gpu is not the CUDA build")'
"$UV" pip install --python "$VENV/bin/python" --no-deps -e .
echo "$want" > "$STAMP"
echo "[setup-gpu] .venv-gpu ready" >&2
