"""End-of-run report: `curves.png` (reward and validation accuracy per step) and the
base-vs-trained table on the test split, like the reference's (model | correct/500 | accuracy).

Called by `train.pipeline.run`; `python -m train.run_report RUN_DIR` redraws the curves.
"""

from __future__ import annotations

from pathlib import Path

from common.run_dir import CURVES, FINAL, SUMMARY, read_json_or_empty
from common.run_results import read_metrics


def plot_curves(run_dir: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir)
    train = [r for r in rows if "reward" in r]
    val = [r for r in rows if "val_accuracy" in r]
    if not train and not val:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if train:
        steps = [r["step"] for r in train]
        ax.plot(steps, [r["reward"] for r in train], label="reward (sum)", alpha=0.6)
        for key, label in (("reward_format", "format reward"), ("reward_equation", "equation reward (train acc.)")):
            if any(key in r for r in train):
                ax.plot(steps, [r.get(key, float("nan")) for r in train], label=label, alpha=0.8)
    if val:
        ax.plot([r["step"] for r in val], [r["val_accuracy"] for r in val], "o-", color="black",
                label="greedy val accuracy")
    for i, a in enumerate(r for r in rows if "alarm" in r):  # train.alarms
        ax.axvline(a["step"], color="red", linestyle="--", alpha=0.7, label="alarm" if i == 0 else None)
        ax.annotate(a["alarm"], (a["step"], 1.0), xycoords=("data", "axes fraction"), rotation=90, va="top",
                    ha="right", fontsize=7, color="red")
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("reward / accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(Path(run_dir).name)
    out = Path(run_dir) / CURVES
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _lm_eval_score(model_dir: str, test_file: str, cfg, temperature: float | None = None) -> dict:
    """Accuracy of `model_dir` on the test split through lm-eval (hf); greedy unless `temperature`."""
    from evaluation.runner import evaluate_model

    s = cfg.script
    r = evaluate_model(model_dir, test_file=test_file, backend="hf", max_gen_toks=s.eval_max_new_tokens,
                       batch_size=s.eval_batch_size, limit=s.final_eval_limit or None, temperature=temperature,
                       dtype=cfg.model.dtype if cfg.model.dtype not in (None, "auto") else None)
    how = "lm-eval, hf" + (f", one sample at temperature {temperature}" if temperature else "")
    return {k: r[k] for k in ("correct", "total", "accuracy", "stderr", "format_rate") if k in r} | {
        "scorer": f"evaluation.runner.evaluate_model ({how})"}


def _score(model_dir: str, test_file: str, rows: list[dict], cfg, backend: str, log,
           temperature: float | None = None) -> dict:
    if temperature:  # sampled: lm-eval only (seeded), no greedy fallback
        return _lm_eval_score(model_dir, test_file, cfg, temperature)
    if backend in ("auto", "lm-eval"):
        try:
            from evaluation.runner import evaluate_model  # noqa: F401 - present? else the greedy scorer
        except ImportError:
            if backend == "lm-eval":
                raise
        else:
            try:
                return _lm_eval_score(model_dir, test_file, cfg)
            except Exception as e:  # noqa: BLE001 - the greedy scorer uses the same verifier
                if backend == "lm-eval":
                    raise
                log(f"evaluate_model failed ({type(e).__name__}: {str(e)[:120]}); using the greedy HF scorer")
    from .greedy_eval import evaluate_path

    s = cfg.script
    r = evaluate_path(model_dir, rows, max_new_tokens=s.eval_max_new_tokens, batch_size=s.eval_batch_size)
    return r | {"scorer": "train.greedy_eval (HF generate, greedy, tasks.countdown.verify)"}


def format_table(rows: list[tuple[str, dict]]) -> str:
    w = max(len(name) for name, _ in rows)
    lines = [f"| {'model':<{w}} | correct/total | accuracy |", f"|{'-' * (w + 2)}|---------------|----------|"]
    for name, r in rows:
        lines.append(f"| {name:<{w}} | {r['correct']:>5}/{r['total']:<7} | {r['accuracy']:>7.1%} |")
    return "\n".join(lines)


def summarize(run_dir: Path, baseline: str, test_rows: list[dict], test_file: str, cfg, log=print) -> dict:
    """Score the baseline (cold start) and the final model on the test split; print the table."""
    s = cfg.script
    rows = test_rows[: s.final_eval_limit] if s.final_eval_limit else test_rows
    base_dir = str(run_dir / baseline) if (run_dir / baseline).is_dir() else baseline
    log(f"scoring baseline ({baseline}) and trained (final) on {len(rows)} test tasks")
    base = _score(base_dir, test_file, rows, cfg, s.eval_backend, log)
    trained = _score(str(run_dir / FINAL), test_file, rows, cfg, s.eval_backend, log)
    table = format_table([(f"baseline ({baseline})", base), ("trained (GRPO, final)", trained)])
    gain = trained["accuracy"] - base["accuracy"]
    text = table + f"\n\nGRPO gain (greedy): {gain * 100:+.1f} points"
    out = {"test": {"baseline": base, "trained": trained, "gain_points": round(gain * 100, 2),
                    "tasks": len(rows), "test_split": test_file}}
    t = s.final_eval_temperature
    if t:
        log(f"scoring both again with one sampled completion per task (temperature {t})")
        base_s = _score(base_dir, test_file, rows, cfg, s.eval_backend, log, temperature=t)
        trained_s = _score(str(run_dir / FINAL), test_file, rows, cfg, s.eval_backend, log, temperature=t)
        gain_s = trained_s["accuracy"] - base_s["accuracy"]
        text += "\n\n" + format_table([(f"baseline ({baseline}), sampled T={t:g}", base_s),
                                        (f"trained (GRPO, final), sampled T={t:g}", trained_s)])
        text += f"\n\nGRPO gain (sampled, T={t:g}): {gain_s * 100:+.1f} points"
        out["test_sampled"] = {"temperature": t, "baseline": base_s, "trained": trained_s,
                               "gain_points": round(gain_s * 100, 2)}
    note = read_json_or_empty(run_dir / SUMMARY).get("shortened")  # train.phases: a budget cut a phase
    if note:
        text += "\n\n" + note
    print(text, flush=True)
    (run_dir / "summary.md").write_text(text + "\n")
    return out | {"table": text}


if __name__ == "__main__":
    import sys

    print(plot_curves(Path(sys.argv[1])))
