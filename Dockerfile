# mini-r1 for GPU machines: CUDA torch + vLLM (the GPU set, requirements/gpu.lock.txt) + the project.
#
#   docker build -t mini-r1 .
#   docker run --gpus all --ipc=host -v "$PWD/data:/app/data" -v "$PWD/runs:/app/runs" \
#       -v "$HOME/.cache/huggingface:/root/.cache/huggingface" mini-r1 data
#   docker run --gpus all --ipc=host ... mini-r1 train ...      # any `python cli.py` command
#
# The CPU-only `vllm` metadata shim (packaging/vllm-cpu-metadata) belongs to the CPU set and is
# never installed here: this image has the real CUDA `vllm` distribution.
# Checked statically by tests/test_dockerfile.py (no Docker engine on the dev machines).

# CUDA 13.0 matches the nvidia-*-cu13 wheels torch 2.13.0 pulls in; "devel" because DeepSpeed
# and FlashInfer compile kernels just in time and need nvcc.
ARG CUDA_IMAGE=nvidia/cuda:13.0.2-devel-ubuntu24.04
FROM ${CUDA_IMAGE}

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_INSTALL_DIR=/opt/python \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git build-essential \
 && rm -rf /var/lib/apt/lists/*

# uv, the same version the lock pins (and the CPU setup uses). UV_NO_CACHE above: uv's download
# cache (several GB of CUDA wheels) would otherwise stay in the image's layers.
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /usr/local/bin/

WORKDIR /app
# The lock alone first, so the multi-GB dependency layer is reused when only code changes.
# --compile-bytecode: each `docker run` is a fresh container, so without .pyc files in the image every
# process of every run (each torchrun rank, each vLLM server) would compile torch, transformers, TRL
# and vLLM from source again (benchmarks/bytecode.py: 0.25-0.45x the CPU per process with them).
COPY requirements/gpu.lock.txt requirements/gpu.lock.txt
RUN uv venv --python 3.11 /opt/venv \
 && uv pip sync --compile-bytecode --python /opt/venv/bin/python requirements/gpu.lock.txt

COPY . .
RUN uv pip install --python /opt/venv/bin/python --no-deps -e . \
 && python -c "import importlib.metadata as m; v = m.version('vllm'); assert 'cpu' not in v, v; print('vllm', v)"

ENTRYPOINT ["python", "cli.py"]
CMD ["--help"]
