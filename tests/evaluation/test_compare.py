"""Several models in one table: evaluation/paired.py (the paired difference and McNemar's exact
test) and evaluation/compare.py (one split for all, labels, pairing), then `cli.py evaluate` with
two models for real."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from evaluation.compare import common_split, pair_runs, unique_labels
from evaluation.paired import mcnemar_exact, paired
from evaluation.targets import EvalError, Target

ROOT = Path(__file__).resolve().parents[2]


def test_mcnemar_exact_against_the_binomial_by_hand():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 2) == 0.5                      # 2 * (1/4)
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)      # two-sided: symmetric
    assert mcnemar_exact(5, 5) == 1.0                      # capped at 1


def test_mcnemar_agrees_with_scipy():
    stats = pytest.importorskip("scipy.stats")
    for b, c in [(3, 17), (0, 6), (12, 9), (40, 61)]:
        assert mcnemar_exact(b, c) == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue)


def test_paired_difference_and_its_stderr():
    rng = random.Random(3)
    a = [rng.random() < 0.2 for _ in range(500)]
    b = [x or rng.random() < 0.15 for x in a]  # b solves what a solves and more
    p = paired(a, b)
    d = [int(y) - int(x) for x, y in zip(a, b)]
    assert p["difference_tasks"] == sum(b) - sum(a) == p["only_b"] and p["only_a"] == 0
    assert p["difference"] == pytest.approx(sum(d) / 500)
    mean = sum(d) / 500
    assert p["paired_stderr"] == pytest.approx((sum((x - mean) ** 2 for x in d) / 499 / 500) ** 0.5)
    # the same tasks make the paired error smaller than the two independent errors combined
    indep = sum((sum(v) / 500) * (1 - sum(v) / 500) / 499 for v in (a, b)) ** 0.5
    assert p["paired_stderr"] < indep
    with pytest.raises(ValueError):
        paired(a, b[:-1])


def test_one_split_for_all(tmp_path):
    one, same, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    one.write_text('{"nums": [1, 2, 3], "target": 6}\n')
    same.write_text(one.read_text())
    other.write_text('{"nums": [1, 2, 4], "target": 7}\n')
    t = lambda label, f: Target(label=label, model="m", test_file=str(f) if f else None)  # noqa: E731
    assert common_split([t("A", one), t("B", same), t("hub", None)], None) == str(one)  # same tasks, two files
    assert common_split([t("hub", None)], None) is None
    assert common_split([t("A", one), t("C", other)], str(one)) == str(one)             # --test-file decides
    with pytest.raises(EvalError, match="A and C were trained with different test splits"):
        common_split([t("A", one), t("C", other)], None)


def test_labels_stay_apart_and_pairs_need_the_same_tasks():
    assert unique_labels(["m", "m", "n", "m"]) == ["m", "m #2", "n", "m #3"]
    run = lambda label, rows: SimpleNamespace(summary={"label": label}, samples=rows)  # noqa: E731
    rows = [{"nums": [1, 2, 3], "target": 6, "ok": True}, {"nums": [1, 2, 4], "target": 7, "ok": False}]
    pairs = pair_runs([run("A", rows), run("B", [dict(r, ok=not r["ok"]) for r in rows]), run("C", rows)])
    assert [(q["a"], q["b"]) for q in pairs] == [("A", "B"), ("A", "C"), ("B", "C")]
    assert (pairs[0]["only_a"], pairs[0]["only_b"]) == (1, 1) and pairs[1]["difference_tasks"] == 0
    with pytest.raises(EvalError, match="different tasks"):
        pair_runs([run("A", rows), run("B", rows[::-1])])


@pytest.mark.slow
def test_two_models_one_table(taught_run, taught_split, tmp_path):
    """`--model RUN --model RUN/sft`: the taught model and the random one on the run's split, one
    table, the pair compared on the same tasks (the taught model alone solves what it solves)."""
    out = tmp_path / "cmp"
    cmd = [sys.executable, str(ROOT / "cli.py"), "evaluate", "--model", str(taught_run), "--model",
           str(taught_run / "sft"), "--max-gen-toks", "48", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[2/2] sft: 0/8, scored in" in proc.stderr and "tasks/s); 0 left" in proc.stderr  # progress
    s = json.loads((out / "summary.json").read_text())
    final, sft = s["models"]
    assert final["test_split"] == sft["test_split"] == str(taught_split)  # the run's split, for both
    assert final["correct"] > 0 and sft["correct"] == 0
    (pair,) = s["pairs"]
    assert (pair["a"], pair["b"]) == (final["label"], "sft")
    assert pair["only_a"] == final["correct"] and pair["only_b"] == 0
    assert pair["difference_tasks"] == -final["correct"]
    assert pair["p_value"] == pytest.approx(2 * 0.5 ** final["correct"] if final["correct"] else 1.0)
    assert f"| sft − {final['label']} | -{final['correct']} |" in proc.stdout
    for f in ("report.md", "accuracy.png", "tiny-r1-countdown-final/samples.jsonl", "sft/samples.jsonl"):
        assert (out / f).is_file(), f
    again = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and again.stderr.count("read back (same settings)") == 2  # nothing rescored
    assert again.stdout == proc.stdout
