"""A finished, scored run directory written by the project's own writers, for the tests that read a
run's results (common/run_results.py, the model card, the demo's Run tab). Fast: no model and no
lm-eval (the completions are given), but every file comes from the code that writes it in a real
run, so the readers are tested against what the writers write, not against JSON typed by hand:

    run.json, data/test.jsonl   common.run_dir.write_run_json, tasks.countdown.data.write_jsonl
    metrics.jsonl               train.callbacks.MetricsCallback, fed a run whose format reward holds while
                                its equation reward falls to zero: its format_without_answers alarm is real
    curves.png                  train.run_report.plot_curves
    summary.json                the end-of-run fields and train.run_report.summarize's table (its scorer
                                given the verdicts below instead of loading a model)
    eval/                       evaluation.report.write_evaluation (what `cli.py evaluate` writes): the rows
                                are lm-eval samples turned into report rows by evaluation.runner.sample_rows
                                with the task's own scoring hook, so each verdict is tasks.countdown.verify's
    eval/sweep/accuracy_vs_step.png   evaluation.sweep.plot_sweep
    README.md                   evaluation.model_card.write_model_card

What cannot come from a writer without a model: config.yaml (a few recipe keys) and the summary
fields run_model takes from lm-eval (accuracy, stderr, format rate: computed here from the same rows).
tests/evaluation/test_hf_backend.py reads a run that `cli.py evaluate` really scored with the same readers.
"""

from __future__ import annotations

import json
from math import sqrt
from pathlib import Path
from unittest import mock

HOSTILE = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"
TASK_SEED = 7
N_TASKS = 16
GRPO_STEPS = 30


def _completions(rows: list[dict], solved: set[int]) -> list[str]:
    """A completion per task: the solver's steps and equation for the `solved` ones, else a wrong
    step and value, a missing answer, or (task 3) markup that must never run on a page."""
    from tasks.countdown.solver import solve

    out = []
    for i, r in enumerate(rows):
        sol = solve(r["nums"], r["target"])
        eq = sol.expression
        if i in solved:
            out.append(f" {' '.join(sol.steps)}</think>\n<answer>{eq}</answer>")
        elif i == 3:
            out.append(f" {HOSTILE}</think>\n<answer>{HOSTILE}</answer>")
        elif i % 2:
            out.append(" no idea</think>")
        else:
            a, b = r["nums"][:2]
            out.append(f" {a}+{b}={a + b + 1} close enough.</think>\n<answer>{'+'.join(str(n) for n in r['nums'])}+1</answer>")
    return out


def _eval_run(rows: list[dict], completions: list[str], label: str, model: str, split: Path):
    """An EvalRun as evaluation.runner.run_model returns it, from lm-eval-shaped samples."""
    from evaluation.runner import EvalRun, add_difficulty, breakdowns, sample_rows
    from tasks.countdown.lm_eval_hooks import make_doc, score

    raw = [{"doc_id": i, "doc": make_doc(i, r), "filtered_resps": [c], "arguments": {"gen_args_0": {
        "arg_0": f"prompt {i}", "arg_1": {}}}} for i, (r, c) in enumerate(zip(rows, completions))]
    samples = add_difficulty(sample_rows(raw, score))
    n, correct = len(samples), sum(r["ok"] for r in samples)
    acc = correct / n
    summary = {"label": label, "model": model, "backend": "hf", "base_url": None, "test_split": str(split),
               "test_size": n, "limit": None, "correct": correct, "total": n, "accuracy": acc,
               "stderr": sqrt(acc * (1 - acc) / (n - 1)), "format_rate": sum(r["well_formatted"] for r in samples) / n,
               "format_rate_stderr": None, "num_samples": 1, "temperature": 0.0, "max_gen_toks": 256,
               "pass_at_k": acc, "maj_at_k": acc, "sympy_checked": correct, "sympy_agreement": 1.0,
               "wall_seconds": 1.0, "tasks_per_second": float(n), **breakdowns(samples)}
    return EvalRun(summary=summary, results={"results": {}}, samples=samples)


def _metrics(run: Path) -> None:
    """metrics.jsonl through the real callback: format holds at ~0.97, the equation reward falls to 0."""
    from train.callbacks import MetricsCallback, StepClock

    cb = MetricsCallback(run / "metrics.jsonl", StepClock(), log=lambda *a: None)

    class State:
        is_world_process_zero = True
        global_step = 0

    for step in range(1, GRPO_STEPS + 1):
        State.global_step = step
        fmt, eq = 0.97 + 0.01 * (step % 3), max(0.0, 0.3 - 0.05 * (step - 1))
        cb.on_log(None, State, None, logs={"reward": fmt - eq, "rewards/format_reward/mean": fmt,
                                           "rewards/equation_reward/mean": eq, "completions/mean_length": 40.0})
        if step % 10 == 0:
            cb.add_val(step, {10: 0.10, 20: 0.06, 30: 0.03}[step])


def build_scored_run(parent: Path, *, end_of_run_table: bool = True, evaluated: bool = True,
                     sweep: bool = True) -> Path:
    """parent/tiny-r1-countdown as a finished run leaves it (models aside), then as `cli.py evaluate`
    leaves it when `evaluated`."""
    import yaml

    from common.run_dir import (ACCURACY_VS_STEP, EVAL, RECIPE, SUMMARY, SWEEP, split_file, update_json,
                                write_run_json)
    from common.run_results import read_metrics
    from evaluation.compare import pair_runs
    from evaluation.model_card import write_model_card
    from evaluation.report import write_evaluation
    from evaluation.sweep import plot_sweep, training_curves
    from tasks.countdown.data import generate_tasks, write_jsonl
    from train.alarms import alarms_in
    from train.run_report import plot_curves, summarize

    run = Path(parent) / "tiny-r1-countdown"
    (run / "data").mkdir(parents=True)
    rows = generate_tasks(N_TASKS, seed=TASK_SEED)
    split = split_file(run, "test")
    write_jsonl(rows, split)
    write_run_json(run, model="final", baseline="sft", test_split=split, val_split=split_file(run, "val"),
                   recipe=RECIPE, final_from="checkpoint-20", global_step=GRPO_STEPS)
    (run / RECIPE).write_text(yaml.safe_dump({"model_name_or_path": "tiny", "max_steps": GRPO_STEPS,
                                              "reward_funcs": ["format", "equation"], "seed": 42}))
    _metrics(run)
    plot_curves(run)
    update_json(run / SUMMARY, {"global_step": GRPO_STEPS, "final_from": "checkpoint-20", "final_val_accuracy": 0.06,
                                "shortened": None, "alarms": alarms_in(read_metrics(run))})

    base = _eval_run(rows, _completions(rows, {0, 5}), "baseline: sft", str(run / "sft"), split)
    model = _eval_run(rows, _completions(rows, {0, 1, 2, 4, 6, 8, 9}), "tiny-r1-countdown (final)",
                      str(run / "final"), split)
    if end_of_run_table:
        scored = {"sft": base.summary, "final": model.summary}
        keys = ("correct", "total", "accuracy", "stderr", "format_rate")

        def score(model_dir, *a, **k):
            return {k: scored[Path(model_dir).name][k] for k in keys} | {"scorer": "lm-eval, hf"}

        cfg = mock.Mock(**{"script.final_eval_limit": 0, "script.eval_backend": "auto",
                           "script.final_eval_temperature": 0.0})
        with mock.patch("train.run_report._score", score), mock.patch("builtins.print"):
            update_json(run / SUMMARY, summarize(run, "sft", rows, str(split), cfg, log=lambda *a: None))
    if evaluated:
        runs = [("baseline", base), ("model", model)]
        write_evaluation(run / EVAL, runs, pair_runs([r for _, r in runs]))
    if sweep:
        (run / EVAL / SWEEP).mkdir(parents=True, exist_ok=True)
        points = [{"label": f"checkpoint-{s}", "step": s, "accuracy": a, "stderr": 0.05}
                  for s, a in ((10, 0.375), (20, 0.4375), (30, 0.3125))]
        points.append({"label": "final", "step": 20, "accuracy": 0.4375, "stderr": 0.05})
        plot_sweep(points, {"accuracy": 0.125}, training_curves(run), run / EVAL / SWEEP / ACCURACY_VS_STEP,
                   f"{run.name}: accuracy by step")
    write_model_card(run)
    return run


def samples_of(run: Path, role: str = "model") -> list[dict]:
    return [json.loads(x) for x in (run / "eval" / role / "samples.jsonl").read_text().splitlines()]
