# The two commands of the README:
#   make train   # the main job: the embedded CPU default (data -> tiny model -> SFT -> GRPO -> eval)
#   make test    # the whole test suite (slow tests included)
# Both create or reuse .venv/ with the pinned CPU stack first.
.PHONY: setup train test test-fast test-gpu-set bench main-job mutate lock

setup:
	@scripts/setup_env.sh

train: setup
	.venv/bin/python cli.py train $(ARGS)

# pytest-xdist: one worker per core of this 2-core machine (the suite is CPU-bound and most tests use one
# core); the tests of the session's vLLM server share one worker (tests/conftest.py's scheduler).
TEST_WORKERS ?= 2
PYTEST = .venv/bin/python -m pytest -q -n $(TEST_WORKERS)

test: setup
	@scripts/browser_deps.sh
	$(PYTEST) --durations=15 $(ARGS)

test-fast: setup
	$(PYTEST) -m "not slow" $(ARGS)

# The suite under the GPU lock's pins (vllm 0.31.0, transformers 5.17.0, CUDA torch) on this CPU: .venv-gpu/
# (scripts/setup_gpu_env.sh, ~8.6 GB). Tests marked cpu_set (the CPU lock and vllm shim checks, the real
# vLLM server, vLLM's engine, the browser) skip there, saying why. Not part of `make test`; one worker by default.
GPU_SET_WORKERS ?= 1
test-gpu-set: setup
	@scripts/setup_gpu_env.sh
	.venv-gpu/bin/python -m pytest -q -n $(GPU_SET_WORKERS) -rs --durations=10 $(ARGS)

# Every benchmark, then benchmarks/README.md's figures regenerated from their results JSON.
bench: setup
	for b in $(filter-out benchmarks/summarize.py benchmarks/main_job.py,$(wildcard benchmarks/*.py)); do .venv/bin/python $$b || exit 1; done
	.venv/bin/python benchmarks/summarize.py

# The headline: make train from a fresh clone for seeds 42, 1 and 2 (~13–16 min each on 2 cores), then the
# README's headline row and benchmarks/README.md regenerated from benchmarks/results/main_job.json.
main-job: setup
	.venv/bin/python benchmarks/main_job.py $(ARGS)
	.venv/bin/python benchmarks/summarize.py

# Mutation testing of the choices that fail silently (docs/mutation-testing.md); not part of CI.
# mutmut is pinned here, outside the lock: the next `make setup` after a lock change removes it again.
MUTATE = tasks.countdown.verifier.* tasks.countdown.data.x_task_key* tasks.countdown.data.x_generate_task* \
  tasks.countdown.data.x_build_splits* tasks.countdown.rewards.* train.callbacks.xǁValidationCallbackǁon_* \
  evaluation.report.*
mutate: setup
	.venv/bin/uv pip install -q --python .venv/bin/python mutmut==3.8.1
	rm -rf mutants
	.venv/bin/mutmut run $(or $(ARGS),$(MUTATE))
	.venv/bin/mutmut results

# Re-resolve the CPU lock from requirements/cpu.in (needs the registries).
lock: setup
	.venv/bin/uv pip compile requirements/cpu.in --override requirements/overrides-cpu.txt \
	  $(foreach d,$(PIP_FIND_LINKS),--find-links $(d)) --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 -o requirements/cpu.lock.txt
