"""One model on the held-out Countdown tasks through lm-eval's `simple_evaluate` and the
`countdown` task (tasks/countdown/countdown.yaml): the numbers, the per-sample log and the
breakdowns a report needs. `evaluate_model` is the API other code (training's summary) calls.

    python -c "from evaluation.runner import evaluate_model; print(evaluate_model('runs/tiny-r1-countdown', limit=20))"

Correctness is decided only inside the task, by `tasks.countdown.verify`; the per-sample rows
re-derive the parsed answer and the verdict's reason with the same `score` hook.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from common.result_tables import numbers_operators
from common.run_dir import SAMPLES, SUMMARY

from .backends import BACKENDS, lm_eval_model
from .targets import EvalError, Target, resolve_target

TASK = "countdown"
DEFAULT_MAX_GEN_TOKS = 1024
PROMPT_ROOM = 256  # tokens kept free for the prompt when a model's context caps the budget


def task_dir() -> Path:
    """The folder lm-eval's TaskManager scans (`--include_path`): tasks/ of this checkout or install."""
    import tasks.countdown

    return Path(tasks.countdown.__file__).resolve().parents[1]


@dataclass
class EvalRun:
    summary: dict
    results: dict  # lm-eval's output without the samples
    samples: list[dict] = field(default_factory=list)


def _float(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) else None


def gen_settings(max_gen_toks: int | None, context: int | None, num_samples: int,
                 temperature: float | None) -> dict:
    """Generation overrides for the task: budget (capped to the model's context) and sampling.

    >>> gen_settings(None, 1024, 1, None)
    {'max_gen_toks': 768}
    >>> gen_settings(64, None, 4, None)
    {'max_gen_toks': 64, 'do_sample': True, 'temperature': 1.0}
    """
    budget = max_gen_toks or DEFAULT_MAX_GEN_TOKS
    if context:
        budget = max(1, min(budget, context - PROMPT_ROOM))
    out: dict = {"max_gen_toks": budget}
    if num_samples > 1 or temperature:
        out.update(do_sample=True, temperature=float(temperature if temperature is not None else 1.0))
    return out


def sample_rows(samples: list[dict], score) -> list[dict]:
    """Per-sample log rows: prompt, completion, parsed answer, verdict reason, ok (first sample),
    plus every sample's verdict when the task was repeated."""
    rows = []
    for s in sorted(samples, key=lambda s: s["doc_id"]):
        doc = s["doc"]
        resps = s.get("filtered_resps") or s.get("resps") or [[""]]
        completions = resps[0] if isinstance(resps[0], list) else resps
        scored = [score(doc, c) for c in completions]
        prompt = next(iter(s["arguments"].values()))["arg_0"] if isinstance(s.get("arguments"), dict) else s["arguments"][0][0]
        if isinstance(prompt, (tuple, list)) and len(prompt) == 1:
            prompt = prompt[0]  # api backend: lm-eval's JsonChatStr, a 1-field NamedTuple (maybe a plain tuple by now)
        prompt = getattr(prompt, "prompt", prompt)
        row = {
            "id": doc["id"], "nums": doc["nums"], "target": doc["target"], "n_numbers": doc["n_numbers"],
            "prompt": str(prompt), **scored[0],
            "acc": s.get("acc"), "pass_at_k": s.get("pass_at_k"), "maj_at_k": s.get("maj_at_k"),
        }
        if len(scored) > 1:
            row["samples"] = scored
        rows.append(row)
    return rows


def _buckets(pairs) -> dict:
    """{bucket: {correct, total, accuracy}} from (bucket, row) pairs; `correct` counts each task's
    first sample (`ok`). Where the tasks were sampled k > 1 times (rows carry their `samples`), each
    bucket also has k, pass@1 (the mean over all samples) and pass@k (a task solved by any)."""
    groups: dict = {}
    for key, r in pairs:
        groups.setdefault(key, []).append(r)
    out = {}
    for key, rows in groups.items():
        correct = sum(int(r["ok"]) for r in rows)
        b = out[key] = {"correct": correct, "total": len(rows), "accuracy": correct / len(rows)}
        runs = [[s["ok"] for s in r.get("samples") or [r]] for r in rows]
        k = max(len(x) for x in runs)
        if k > 1:
            b.update(k=k, pass_at_1=sum(sum(x) / len(x) for x in runs) / len(runs),
                     pass_at_k=sum(any(x) for x in runs) / len(runs))
    return out


def add_difficulty(rows: list[dict]) -> list[dict]:
    """Give each row that carries its task the task's difficulty (`tasks.countdown.difficulty`:
    operators needed, number of solutions) under "difficulty", once: samples.jsonl keeps it, so the
    breakdowns and anyone reading the run (the demo's Run tab) bucket a sample without solving it again."""
    from tasks.countdown.difficulty import difficulty

    for r in rows:
        if "difficulty" not in r and "nums" in r and "target" in r:
            r["difficulty"] = difficulty(r["nums"], r["target"])
    return rows


def breakdowns(rows: list[dict]) -> dict:
    """Accuracy by number count, by the operators a task needs and by how many solutions it has
    (`tasks.countdown.difficulty`, when the rows carry their task), the count of each verdict reason, and
    how many of the think block's steps are right (`tasks.countdown.think_steps`)."""
    out = {"by_numbers": dict(sorted(_buckets((str(r["n_numbers"]), r) for r in rows).items()))}
    if rows and all("nums" in r and "target" in r for r in rows):
        from tasks.countdown.difficulty import difficulty

        kinds = [r.get("difficulty") or difficulty(r["nums"], r["target"]) for r in rows]
        for key in ("operators", "solutions"):
            out[f"by_{key}"] = dict(sorted(_buckets((k[key], r) for k, r in zip(kinds, rows)).items()))
        out["by_numbers_operators"] = dict(sorted(_buckets(
            (numbers_operators(r["n_numbers"], k["operators"]), r) for k, r in zip(kinds, rows)).items()))
    out["by_reason"] = dict(Counter(r["reason"] for r in rows).most_common())
    if rows and all("completion" in r and "nums" in r for r in rows):
        from tasks.countdown.think_steps import tally

        out["think_steps"] = tally(rows)
    return out


def _prepare_target(model: str | None, backend: str) -> Target:
    if backend == "api":
        # Over the API the model is the server's; a local run/model dir still gives its test split.
        if model and Path(model).expanduser().exists():
            t = resolve_target(model)
            return Target(label=t.label, model=None, test_file=t.test_file, baseline=t.baseline, run_dir=t.run_dir)
        return Target(label=model or "served model", model=model)
    if not model:
        raise EvalError("no model given (--model PATH)")
    return resolve_target(model)


def _test_rows(test_file: str | None):
    from tasks.countdown.data import DataError
    from tasks.countdown.lm_eval_hooks import load_rows

    try:
        rows, source = load_rows(test_file)
    except DataError as e:
        raise EvalError(f"test split: {e}") from None
    return rows, source


def _quiet_logs(verbose: bool) -> None:
    if not verbose:
        # lm-eval warns about things this command sets on purpose (--limit, gen_kwargs, metadata).
        logging.getLogger("lm_eval").setLevel(logging.ERROR)
        for name in ("vllm", "transformers"):
            logging.getLogger(name).setLevel(logging.WARNING)


def run_model(model: str | None, *, test_file: str | None = None, backend: str = "hf", limit: int | None = None,
              label: str | None = None, num_samples: int = 1, temperature: float | None = None,
              max_gen_toks: int | None = None, batch_size: int | None = None, dtype: str | None = None,
              max_model_len: int | None = None, base_url: str | None = None, api_key: str | None = None,
              num_concurrent: int = 8, seed: int = 1234, verbose: bool = False) -> EvalRun:
    """Evaluate one model; raises `EvalError` (one line) on bad input or a failed run."""
    if backend not in BACKENDS:
        raise EvalError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if num_samples < 1:
        raise EvalError("--num-samples must be at least 1")
    if limit is not None and limit < 1:
        raise EvalError("--limit must be at least 1")
    target = _prepare_target(model, backend)
    test_file = test_file or target.test_file
    rows, source = _test_rows(test_file)
    name, model_args, context = lm_eval_model(
        backend, target.model, batch_size=batch_size, dtype=dtype, max_model_len=max_model_len,
        base_url=base_url, api_key=api_key, num_concurrent=num_concurrent,
    )
    if backend == "api":
        target.label = label or (target.label if target.model is None and target.run_dir else model_args["model"])
    gen_kwargs = gen_settings(max_gen_toks, context, num_samples, temperature)

    _quiet_logs(verbose)
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from tasks.countdown.lm_eval_hooks import score

    start = time.perf_counter()
    try:
        tm = TaskManager(include_path=str(task_dir()), include_defaults=False,
                         metadata={"test_file": source if Path(source).exists() else None})
        task = tm.load([TASK])["tasks"][TASK]
        if num_samples > 1:
            task.set_config(key="repeats", value=num_samples)
        out = simple_evaluate(
            model=name, model_args=model_args, tasks=[task], task_manager=tm, limit=limit,
            gen_kwargs=gen_kwargs, apply_chat_template=True, log_samples=True,
            random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed,
        )
    except EvalError:
        raise
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - lm-eval, transformers, vLLM and HTTP errors: one line for the user
        if os.environ.get("MINI_R1_DEBUG"):
            raise
        msg = (str(e).strip().splitlines() or [""])[0][:300]
        raise EvalError(f"{backend} evaluation of {target.model or base_url} failed: {type(e).__name__}: {msg}") from None
    wall = time.perf_counter() - start
    if not out or TASK not in out.get("results", {}):
        raise EvalError(f"lm-eval returned no results for {target.model or base_url}")

    raw = out.pop("samples", {}).get(TASK, [])
    samples = add_difficulty(sample_rows(raw, score))
    res = out["results"][TASK]
    agreement = _float(res.get("sympy_agree,none"))
    total = len(samples)
    correct = sum(int(r["ok"]) for r in samples)
    summary = {
        "label": label or target.label,
        "model": target.model or model_args.get("model"),
        "backend": backend,
        "base_url": base_url if backend == "api" else None,
        "test_split": source,
        "test_size": len(rows),
        "limit": limit,
        "correct": correct,
        "total": total,
        "accuracy": _float(res.get("acc,none")),
        "stderr": _float(res.get("acc_stderr,none")),
        "format_rate": _float(res.get("format_rate,none")),
        "format_rate_stderr": _float(res.get("format_rate_stderr,none")),
        "num_samples": num_samples,
        "temperature": gen_kwargs.get("temperature", 0.0),
        "max_gen_toks": gen_kwargs["max_gen_toks"],
        "pass_at_k": _float(res.get("pass_at_k,none")),
        "maj_at_k": _float(res.get("maj_at_k,none")),
        # sympy re-evaluated this many of the verifier's values and agreed on all (else lm-eval stopped)
        "sympy_checked": sum(int(s.get("sympy_agree", (0, 0))[0]) for s in raw),
        "sympy_agreement": None if agreement is None or math.isnan(agreement) else agreement,
        "wall_seconds": round(wall, 2),
        "tasks_per_second": round(total / wall, 3) if wall > 0 else None,
        **breakdowns(samples),
    }
    if summary["accuracy"] is not None and total and abs(summary["accuracy"] - correct / total) > 1e-9:
        raise EvalError("internal mismatch: lm-eval's accuracy differs from the per-sample verdicts")
    return EvalRun(summary=summary, results=out, samples=samples)


def _dump(obj) -> str:
    from lm_eval.utils import handle_non_serializable

    return json.dumps(obj, indent=2, default=handle_non_serializable, ensure_ascii=False) + "\n"


def stage_model_outputs(run: EvalRun, folder: Path) -> None:
    """lm-eval's results JSON, the per-sample JSONL and the summary of one model into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(_dump(run.results), encoding="utf-8")
    with open(folder / SAMPLES, "w", encoding="utf-8") as f:
        for r in run.samples:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    (folder / SUMMARY).write_text(_dump(run.summary), encoding="utf-8")


def publish(staging: Path, out_dir: Path) -> None:
    """Move a finished staging folder's files into `out_dir`, summary files last, so a run that
    died half-way never leaves a result that looks complete."""
    files = sorted((p for p in staging.rglob("*") if p.is_file()), key=lambda p: p.name == SUMMARY)
    for src in files:
        dst = out_dir / src.relative_to(staging)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
    shutil.rmtree(staging, ignore_errors=True)


def staging_dir(out_dir: Path) -> Path:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))


def write_model_outputs(run: EvalRun, folder: Path) -> None:
    """One model's outputs into `folder`, all at once (staged, then published)."""
    staging = staging_dir(folder)
    try:
        stage_model_outputs(run, staging)
        publish(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def evaluate_model(model: str, *, test_file: str | None = None, backend: str = "hf", limit: int | None = None,
                   out_dir: str | None = None, **kw) -> dict:
    """Evaluate `model` (run dir, model dir or hub id; the served model for backend "api") on the
    held-out split; write results.json, samples.jsonl and summary.json to `out_dir` if given.
    Returns the summary: correct, total, accuracy, stderr, format_rate, breakdowns, timings."""
    run = run_model(model, test_file=test_file, backend=backend, limit=limit, **kw)
    if out_dir:
        write_model_outputs(run, Path(out_dir))
    return run.summary
