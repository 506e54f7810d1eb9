"""The ground the rest stands on, with `tasks/`: the facts that train, evaluate, serve and the demo
must agree on and that are not about the Countdown task itself — the run directory's layout
(`run_dir`), what a model reference names (`model_ref`), which GPUs are visible (`hardware`), the
environment vLLM starts with (`vllm_env`) and the one-line user error (`errors`). Imports nothing
of the project's."""
