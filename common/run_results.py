"""What a run's result files say, read and never recomputed: the one place that reads them for the
run's model card (evaluation/model_card.py) and the demo's Run tab (serve/run_tab.py), so both show
the same numbers in the same words.

    results_lines(run)    the base-vs-trained table and where it came from: `cli.py evaluate`'s
                          (eval/summary.json) with its difference and paired line, over the end-of-run
                          table (summary.json's `test`), else the one line saying how to score the run
    breakdowns_text(run)  accuracy by number count and difficulty with the change against the baseline,
                          and the verdict reasons (`cli.py evaluate`'s only: the end-of-run table has none)
    notes_lines(run)      a SHORTENED RUN line and one line per alarm (train/alarms.py)
    figure(run, name)     curves.png (training) and eval/sweep/accuracy_vs_step.png, when drawn
    samples(run, role)    eval/{model,baseline}/samples.jsonl: each test task with its completion and verdict
    sample_buckets(row)   the breakdown columns a sample counts in ("3 numbers", "+/- only", "1-2 solutions",
                          "3 numbers, +/- only")

Every reader shows what there is: a missing or half-written file reads as nothing, never an error
(a run still training, a run not scored yet, a run from before a file existed).
"""

from __future__ import annotations

import json
from pathlib import Path

from .result_tables import (BREAKDOWNS, breakdown_tables, difference, end_of_run_table, main_table, numbers_operators,
                            pairwise_table)
from .run_dir import (ACCURACY_VS_STEP, CURVES, EVAL, METRICS, RUN_JSON, SAMPLES, SUMMARY, SWEEP,
                      read_json_or_empty)

FIGURES = {"curves": (CURVES,), "accuracy_vs_step": (EVAL, SWEEP, ACCURACY_VS_STEP)}
ROLES = ("model", "baseline")  # eval/'s folders: the run's model and its baseline


def _jsonl(path: Path) -> list[dict]:
    """The JSON objects of a JSONL file; a line being written (or otherwise unreadable) is skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            out.append(row)
    return out


def read_metrics(run_dir: Path) -> list[dict]:
    """metrics.jsonl's rows (train/callbacks.py): one per logged step, the validation passes, the alarms."""
    return _jsonl(Path(run_dir) / METRICS)


def evaluation(run_dir: Path) -> dict:
    """eval/summary.json when it holds a scored model (`cli.py evaluate --model RUN`), else {}."""
    ev = read_json_or_empty(Path(run_dir) / EVAL / SUMMARY)
    return ev if isinstance(ev.get("model"), dict) else {}


def not_scored_line(run_dir: Path) -> str:
    return f"Not scored yet: `python cli.py evaluate --model {run_dir}`."


def paired_line(ev: dict) -> str | None:
    """The model against its baseline task by task (paired stderr, McNemar), as `cli.py evaluate` printed it."""
    paired, base = (ev.get("difference") or {}).get("paired"), ev.get("baseline")
    if not paired or not base:
        return None
    return pairwise_table([{"a": base["label"], "b": ev["model"]["label"], **paired}])


def results_lines(run_dir: Path) -> list[str]:
    """The newest table, as markdown lines: `cli.py evaluate`'s over the end-of-run one."""
    run_dir = Path(run_dir)
    ev = evaluation(run_dir)
    if ev:
        model, base = ev["model"], ev.get("baseline")
        out = ["Scored by `python cli.py evaluate` (lm-eval, " + f"{model['backend']} backend, greedy, at most "
               f"{model['max_gen_toks']} new tokens) on `{model['test_split']}` ({model['total']} tasks):", "",
               main_table([s for s in (base, model) if s])]
        if base:
            out += ["", difference(base, model)]
        paired = paired_line(ev)
        if paired:
            out += ["", paired]
        return out + ["", "Full report: `eval/report.md`."]
    test = read_json_or_empty(run_dir / SUMMARY).get("test")
    if test:
        return ["Scored at the end of training on `" + str(test.get("test_split")) + f"` ({test['tasks']} tasks, "
                f"{test['trained'].get('scorer', 'greedy')}):", "", *end_of_run_table(test)]
    return [not_scored_line(run_dir)]


def breakdowns_text(run_dir: Path) -> str | None:
    """`cli.py evaluate`'s breakdowns (eval/summary.json), None when the run has not been evaluated."""
    ev = evaluation(run_dir)
    if not ev:
        return None
    base = ev.get("baseline")
    return breakdown_tables([s for s in (base, ev["model"]) if s], base)


def run_alarms(run_dir: Path) -> list[dict]:
    """The alarm events (train/alarms.py): summary.json's once the run has ended, else metrics.jsonl's."""
    summary = read_json_or_empty(Path(run_dir) / SUMMARY)
    if "alarms" in summary:
        return list(summary["alarms"] or [])
    return [r for r in read_metrics(run_dir) if "alarm" in r]


def notes_lines(run_dir: Path) -> list[str]:
    """Markdown list items: the SHORTENED RUN line (train/phases.py) and one line per alarm."""
    summary = read_json_or_empty(Path(run_dir) / SUMMARY)
    return ([f"- **{summary['shortened']}**"] if summary.get("shortened") else []) + [
        f"- **Alarm at step {a['step']} ({a['alarm']})**: {a['message']}." for a in run_alarms(run_dir)]


def final_line(run_dir: Path) -> str:
    """Which model final/ is and its validation accuracy, from run.json and summary.json."""
    run, summary = read_json_or_empty(Path(run_dir) / RUN_JSON), read_json_or_empty(Path(run_dir) / SUMMARY)
    val = summary.get("final_val_accuracy")
    return (f"- Final model: `final/`, from {run.get('final_from', '?')} after {run.get('global_step', '?')} GRPO steps"
            + (f" (validation accuracy {100 * val:.1f}%)" if isinstance(val, (int, float)) else "") + ".")


def figure(run_dir: Path, name: str) -> Path | None:
    """A figure the run has drawn (`name`: a FIGURES key), None when it is not there yet."""
    path = Path(run_dir).joinpath(*FIGURES[name])
    return path if path.is_file() else None


def samples(run_dir: Path, role: str = "model") -> list[dict]:
    """eval/ROLE/samples.jsonl (evaluation/runner.py): per test task its numbers, target, completion,
    answer, verdict (`ok`, `reason`) and difficulty, in task order; [] when not evaluated."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    return _jsonl(Path(run_dir) / EVAL / role / SAMPLES)


def sample_buckets(row: dict) -> list[str]:
    """The breakdown columns (common.result_tables.BREAKDOWNS) a sample counts in, by their headings.

    >>> sample_buckets({"n_numbers": 4, "difficulty": {"operators": "+/- only", "solutions": "1-2 solutions"}})
    ['4 numbers', '+/- only', '1-2 solutions', '4 numbers, +/- only']
    >>> sample_buckets({"n_numbers": 3})   # evaluated before samples kept their difficulty
    ['3 numbers']
    """
    values = {"by_numbers": row.get("n_numbers"),
              **{f"by_{k}": v for k, v in (row.get("difficulty") or {}).items()}}
    if values.get("by_numbers") is not None and values.get("by_operators") is not None:
        values["by_numbers_operators"] = numbers_operators(values["by_numbers"], values["by_operators"])
    return [heading.format(values[key]) for key, heading in BREAKDOWNS if values.get(key) is not None]
