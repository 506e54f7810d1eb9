"""The demo's Run tab: the run the demo serves, as its files say. The base-vs-trained table with its
paired line, the alarms, curves.png and accuracy_vs_step.png when drawn, the breakdowns by number
count and difficulty, and a browsable sample of the test completions with their verdicts (right or
wrong, per difficulty, trained model or baseline).

Everything is read through common/run_results.py, as the run's model card reads it, when the page
loads (a run scored again shows its new numbers on reload); nothing is scored or recounted here.
Model output is hostile input: every completion and answer is escaped before it reaches the page.

Element ids: #run_header, #run_table, #run_alarms, #run_curves, #run_accuracy, #run_breakdowns,
#run_samples, and the sample filters #run_samples_model, #run_samples_verdict, #run_samples_bucket,
#run_samples_page. Without a run directory the tab holds one line, #run_missing.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from common.result_tables import BREAKDOWNS, bucket_names
from common.run_results import (breakdowns_text, evaluation, figure, final_line, notes_lines, read_metrics,
                                results_lines, sample_buckets, samples)

NEEDS_RUN_DIR = ("No run to show: start the demo with --run-dir runs/<name> (a run directory) to see its table, "
                 "curves, alarms and samples here.")
PAGE_SIZE = 20
MODELS = {"trained": "model", "baseline": "baseline"}  # the filter's choice -> eval/'s folder
VERDICTS = ("all", "right", "wrong")
ALL = "all"
FIGURE_MISSING = {
    "curves": "curves.png is drawn at the end of training (`python -m train.run_report {run}` redraws it).",
    "accuracy_vs_step": "accuracy_vs_step.png: test accuracy of every kept checkpoint, drawn by "
                        "`python cli.py evaluate --model {run} --checkpoints all`.",
}
OK_COLOUR, BAD_COLOUR = "#15803d", "#b91c1c"
NO_ALARM = ("No alarm fired: the training accuracy and greedy validation accuracy did not part ways, and the "
            "format reward was not earned without answers (train/alarms.py).")


def _md(lines) -> str:
    """Markdown from the run's files for gr.Markdown, with any HTML in it shown as text."""
    return html.escape("\n".join(lines) if isinstance(lines, list) else lines, quote=False)


def figure_html(run_dir: Path, name: str) -> str:
    """The PNG inline (a data: URL, so a run outside the working directory shows too), else what draws it."""
    path = figure(run_dir, name)
    if path is None:
        return f'<p class="missing">{html.escape(FIGURE_MISSING[name].format(run=run_dir))}</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}" style="max-width:100%">'


def bucket_choices(run_dir: Path) -> list[str]:
    """The sample filter's difficulty choices: the breakdown columns, in the breakdown tables' order."""
    ev = evaluation(run_dir)
    summaries = [s for s in (ev.get("model"), ev.get("baseline")) if s]
    return [ALL] + [heading.format(n) for key, heading in BREAKDOWNS for n in bucket_names(summaries, key)]


def run_view(run_dir: Path | None) -> dict[str, str]:
    """Each panel's content (markdown or HTML), by element id."""
    if run_dir is None:
        return {"run_missing": _md(NEEDS_RUN_DIR)}
    run_dir = Path(run_dir)
    breakdowns = breakdowns_text(run_dir)
    notes = notes_lines(run_dir)
    return {
        "run_header": _md([f"### Run `{run_dir}`", "", final_line(run_dir)]),
        "run_table": _md(results_lines(run_dir)),
        "run_alarms": _md(notes or [NO_ALARM if read_metrics(run_dir) else "No training metrics yet (metrics.jsonl)."]),
        "run_curves": figure_html(run_dir, "curves"),
        "run_accuracy": figure_html(run_dir, "accuracy_vs_step"),
        "run_breakdowns": _md(breakdowns or needs_evaluate(run_dir, "The breakdowns by number count and difficulty")),
    }


def needs_evaluate(run_dir: Path, what: str) -> str:
    """What `cli.py evaluate` would add to a run the end of training scored (or nothing scored yet)."""
    return f"{what} come from `python cli.py evaluate --model {run_dir}`, not run on this run yet."


def _sample_row(r: dict) -> str:
    ok = bool(r.get("ok"))
    task = f"{', '.join(str(n) for n in r.get('nums', []))} → {r.get('target', '?')}"
    mark = (f'<span class="mark" style="font-weight:700;color:{OK_COLOUR if ok else BAD_COLOUR}">'
            f'{"✓" if ok else "✗"} {html.escape(str(r.get("reason", "")))}</span>')
    answer = r.get("answer")
    return (f'<tr class="sample {"right" if ok else "wrong"}">'
            f'<td>{html.escape(str(r.get("id", "")))}</td><td>{html.escape(task)}</td>'
            f'<td>{html.escape(" · ".join(sample_buckets(r)))}</td><td>{mark}</td>'
            f'<td><code>{html.escape(answer) if answer else "(no answer)"}</code></td>'
            f'<td><details><summary>completion</summary><pre style="white-space:pre-wrap">'
            f'{html.escape(str(r.get("completion", "")))}</pre></details></td></tr>')


def samples_html(run_dir: Path, model: str = "trained", verdict: str = ALL, bucket: str = ALL, page=1) -> str:
    """One page of eval/{model,baseline}/samples.jsonl, filtered by verdict and difficulty, escaped."""
    rows = samples(run_dir, MODELS.get(model, "model"))
    if not rows:
        return ('<p class="missing">' + html.escape(
            f"No samples of the {model} model in {run_dir}/eval." if evaluation(run_dir) else
            needs_evaluate(run_dir, "Test completions with their verdicts")) + "</p>")
    picked = [r for r in rows if (verdict == ALL or bool(r.get("ok")) == (verdict == "right"))
              and (bucket in (ALL, None) or bucket in sample_buckets(r))]
    pages = max(1, -(-len(picked) // PAGE_SIZE))
    page = min(max(1, int(page or 1)), pages)
    shown = picked[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    what = " · ".join(x for x in (f"{model} model", verdict if verdict != ALL else "", bucket if bucket != ALL else "")
                      if x)
    head = (f'<p class="count">{len(picked)} of {len(rows)} test tasks ({html.escape(what)}); page {page} of {pages}'
            + (f", tasks {(page - 1) * PAGE_SIZE + 1}–{(page - 1) * PAGE_SIZE + len(shown)}" if shown else "") + "</p>")
    if not shown:
        return head
    return (head + '<table class="samples"><thead><tr><th>id</th><th>numbers → target</th><th>difficulty</th>'
            '<th>verdict</th><th>answer</th><th>completion</th></tr></thead><tbody>'
            + "".join(_sample_row(r) for r in shown) + "</tbody></table>")


def build_run_tab(app, run_dir: Path | None) -> None:
    """The Run tab, inside `app`'s Blocks context; its panels are read from the run at each page load."""
    import gradio as gr

    with gr.Tab("Run"):
        if run_dir is None:
            gr.Markdown(run_view(None)["run_missing"], elem_id="run_missing")
            return
        header = gr.Markdown(elem_id="run_header")
        table = gr.Markdown(elem_id="run_table")
        gr.Markdown("#### Alarms")
        alarms = gr.Markdown(elem_id="run_alarms")
        with gr.Row():
            curves = gr.HTML(elem_id="run_curves")
            accuracy = gr.HTML(elem_id="run_accuracy")
        gr.Markdown("#### By number count and difficulty")
        breakdowns = gr.Markdown(elem_id="run_breakdowns")
        gr.Markdown("#### Test completions and their verdicts")
        with gr.Row():
            model = gr.Radio(list(MODELS), value="trained", label="model", elem_id="run_samples_model")
            verdict = gr.Radio(list(VERDICTS), value=ALL, label="verdict", elem_id="run_samples_verdict")
            bucket = gr.Dropdown([ALL], value=ALL, label="difficulty", elem_id="run_samples_bucket")
            page = gr.Number(1, precision=0, minimum=1, label=f"page ({PAGE_SIZE} a page)", elem_id="run_samples_page")
        shown = gr.HTML(elem_id="run_samples")

    def load():
        view = run_view(run_dir)
        return (view["run_header"], view["run_table"], view["run_alarms"], view["run_curves"], view["run_accuracy"],
                view["run_breakdowns"], gr.update(choices=bucket_choices(run_dir), value=ALL),
                samples_html(run_dir))

    app.load(load, None, [header, table, alarms, curves, accuracy, breakdowns, bucket, shown], queue=False)
    filters = [model, verdict, bucket, page]
    for f in filters:
        f.change(lambda *a: samples_html(run_dir, *a), filters, shown, queue=False)
