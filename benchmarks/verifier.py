"""Verifier throughput and worst case, side by side with an `eval`-based reference scorer.

    .venv/bin/python benchmarks/verifier.py              # prints a table, writes benchmarks/results/verifier.json

Why: the verifier is the reward of every GRPO step and the metric of every evaluation, so it must
be no slower than the `eval` scorers the public Countdown recipes use, while never evaluating code
and never hanging. The reference below reimplements their scorer (philschmid's
`equation_reward_func` from the mini-deepseek-r1 GRPO recipe: first `<answer>` block, `\\d+`
number check, a regex character filter, `eval` with builtins disabled, 1e-5 float tolerance).

Two measurements, one run:
1. A realistic mix of completions built from the solver and the synthetic data (correct, wrong
   value, wrong numbers, no answer, malformed): verifications per second, best of several passes,
   the two scorers interleaved so machine load hits both alike (CPU time of the process).
2. Adversarial inputs (1 MB completions, 100k nested parentheses, power towers, ...): the time of
   one call. The reference runs each case in a subprocess with a timeout, because some of them
   hang `eval` (`10**9**8**7`) or could crash it; those are reported as such, not timed.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tasks.countdown import solve, verify  # noqa: E402
from tasks.countdown.data import generate_tasks  # noqa: E402

# CPU time of this process, not wall time: on a shared machine, time spent preempted by other
# processes is not the scorer's cost. Both scorers are timed with the same clock.
clock = time.process_time
RESULTS = ROOT / "benchmarks" / "results" / "verifier.json"
REFERENCE_TIMEOUT_S = 5.0
KINDS = {"correct": 0.2, "wrong_value": 0.35, "wrong_numbers": 0.15, "no_answer": 0.15, "malformed": 0.15}


def reference_score(completion: str, numbers, target) -> float:
    """The public recipes' scorer (regex + `eval`), one completion at a time."""
    try:
        completion = "<think>" + completion
        match = re.search(r"<answer>(.*?)<\/answer>", completion)
        if match is None:
            return 0.0
        equation = match.group(1).strip()
        used_numbers = [int(n) for n in re.findall(r"\d+", equation)]
        if sorted(used_numbers) != sorted(numbers):
            return 0.0
        if not re.match(r"^[\d+\-*/().\s]+$", equation):
            return 0.0
        result = eval(equation, {"__builtins__": None}, {})  # noqa: S307 - this is the point of comparison
        return 1.0 if abs(float(result) - float(target)) < 1e-5 else 0.0
    except Exception:  # noqa: BLE001
        return 0.0


def ours_score(completion: str, numbers, target) -> float:
    return 1.0 if verify(completion, numbers, target).ok else 0.0


# --- the realistic mix --------------------------------------------------------------------------

def random_expression(rng: random.Random, numbers) -> str:
    items = [str(n) for n in numbers]
    while len(items) > 1:
        a = items.pop(rng.randrange(len(items)))
        b = items.pop(rng.randrange(len(items)))
        items.append(f"({a} {rng.choice('+-*/')} {b})")
    return items[0][1:-1] if len(numbers) > 1 else items[0]


def make_completion(kind: str, task: dict, rng: random.Random) -> str:
    nums, target = task["nums"], task["target"]
    solution = solve(nums, target, integer_only=True)
    steps = ", ".join(solution.steps)
    think = f" I need {target} from {nums}. Let me try: {steps}. So the answer is {solution.expression}.\n"
    if kind == "correct":
        eq = solution.expression + (f" = {target}" if rng.random() < 0.5 else "")
        return f"{think}</think>\n<answer>{eq}</answer>"
    if kind == "wrong_value":
        for _ in range(50):
            eq = random_expression(rng, nums)
            if verify(f"<answer>{eq}</answer>", nums, target).reason == "wrong_value":
                break
        return f"{think}</think>\n<answer>{eq}</answer>"
    if kind == "wrong_numbers":
        changed = list(nums)
        if rng.random() < 0.5:
            changed.pop(rng.randrange(len(changed)))
        else:
            changed[rng.randrange(len(changed))] += 1
        return f"{think}</think>\n<answer>{random_expression(rng, changed)}</answer>"
    if kind == "no_answer":
        return think[: rng.randrange(10, len(think))]
    malformed = [
        f"{solution.expression} ** 1",
        f"{solution.expression} // 1",
        f"x = {solution.expression}",
        f"{solution.expression}.0",
        f"({solution.expression}",
        f"{target}",
        f"{solution.expression} = {target + 1}",
        "__import__('os').getcwd()",
    ]
    return f"{think}</think>\n<answer>{rng.choice(malformed)}</answer>"


def build_mix(n: int, seed: int) -> list[tuple[str, str, list[int], int]]:
    rng = random.Random(seed)
    tasks = generate_tasks(max(1, n // 5), seed=seed)
    kinds, weights = zip(*KINDS.items())
    mix = []
    for i in range(n):
        task = tasks[i % len(tasks)]
        kind = rng.choices(kinds, weights)[0]
        mix.append((kind, make_completion(kind, task, rng), task["nums"], task["target"]))
    return mix


def throughput(mix, repeats: int, chunk: int = 250) -> dict:
    """Verifications/s of both scorers. The mix is timed in chunks, the two scorers alternating
    chunk by chunk, and each chunk's best time over `repeats` passes is kept: a load spike on the
    shared machine then spoils one chunk's sample, not a whole figure. GC is off while timing,
    as in `timeit`."""
    scorers = {"ours": ours_score, "eval": reference_score}
    chunks = [mix[i : i + chunk] for i in range(0, len(mix), chunk)]
    by_kind = {kind: [m for m in mix if m[0] == kind] for kind in KINDS}
    best = {name: [math.inf] * len(chunks) for name in scorers}
    best_kind = {name: {kind: math.inf for kind in KINDS} for name in scorers}
    gc.collect()
    gc.disable()
    try:
        for r in range(repeats):
            order = list(scorers) if r % 2 == 0 else list(scorers)[::-1]
            for i, part in enumerate(chunks):
                for name in order:
                    best[name][i] = min(best[name][i], _time_all(scorers[name], part))
            for kind, part in by_kind.items():
                for name in order:
                    best_kind[name][kind] = min(best_kind[name][kind], _time_all(scorers[name], part))
    finally:
        gc.enable()
    total = {name: sum(times) for name, times in best.items()}
    per_kind = {}
    for kind, part in by_kind.items():
        ours, ref = len(part) / best_kind["ours"][kind], len(part) / best_kind["eval"][kind]
        per_kind[kind] = {"n": len(part), "ours_per_s": ours, "eval_per_s": ref, "ratio": ours / ref}
    agree = sum(ours_score(c, n, t) == reference_score(c, n, t) for _, c, n, t in mix)
    return {
        "n": len(mix),
        "ours_per_s": len(mix) / total["ours"],
        "eval_per_s": len(mix) / total["eval"],
        "ratio": total["eval"] / total["ours"],
        "per_kind": per_kind,
        "verdicts_agree": agree,
        "verdicts_differ": len(mix) - agree,
    }


def _time_all(score, subset) -> float:
    t0 = clock()
    for _, completion, nums, target in subset:
        score(completion, nums, target)
    return clock() - t0


# --- adversarial inputs -------------------------------------------------------------------------

MB = 1 << 20


def adversarial_cases() -> list[tuple[str, str, list[int], int]]:
    """(name, completion, numbers, target); built on demand (some are 1 MB)."""
    big = [12345678901, 98765432109, 11111111111, 22222222223, 33333333331, 44444444447, 55555555553,
           66666666667, 77777777773, 88888888889, 99999999977, 10000000019, 20000000011, 30000000001,
           40000000003, 50000000021]
    worst_arith = "/".join(f"({a}*{b})" for a, b in zip(big[::2], big[1::2]))[:200]
    worst_arith = worst_arith[: worst_arith.rfind("/")]
    worst_nums = [int(x) for x in re.findall(r"\d+", worst_arith)]
    deep = "(" * 16 + "1+2" + ")" * 16
    return [
        ("power tower 10**9**8**7", "x</think><answer>10**9**8**7</answer>", [7, 8, 9, 10], 24),
        ("unary minus x100k", "x</think><answer>" + "-" * 100_000 + "1</answer>", [1], 1),
        ("100k nested parentheses in answer", "x</think><answer>" + "(" * 100_000 + "1" + ")" * 100_000 + "</answer>",
         [1], 1),
        ("100k nested parentheses, no tags", "(" * 100_000 + "1" + ")" * 100_000, [1], 1),
        ("1 MB think, then the answer", "x" * MB + "</think><answer>55+36-7-19</answer>", [19, 36, 55, 7], 65),
        ("answer, then 1 MB", "x</think><answer>55+36-7-19</answer>" + "x" * MB, [19, 36, 55, 7], 65),
        ("1 MB of digits in the answer", "x</think><answer>" + "9" * MB + "</answer>", [9], 9),
        ("1 MB '1+1+...' in the answer", "x</think><answer>" + "1+" * (MB // 2) + "1</answer>", [1, 1], 2),
        ("1 MB of '<answer' near-misses", "<answer<answer" * (MB // 14) + "</answer>", [1], 1),
        ("1 MB of '<answer>' openers", "<answer>" * (MB // 8) + "</answer>", [1], 1),
        ("1 MB of '</answer' near-misses", "</answer" * (MB // 8), [1], 1),
        ("dunder chain", "x</think><answer>().__class__.__bases__[0].__subclasses__()</answer>", [0], 0),
        ("code injection", "x</think><answer>__import__('os').system('id')</answer>", [1], 1),
        ("16 big numbers, * and / (largest exact arithmetic in the caps)",
         f"x</think><answer>{worst_arith}</answer>", worst_nums, 1),
        ("16-deep parentheses (the cap)", f"x</think><answer>{deep}</answer>", [1, 2], 3),
        # whitespace never hides text (issue 24): each of these is judged on the whole block
        ("correct, 255 spaces, then '*0'", "x</think><answer>55+36-7-19" + " " * 255 + "*0</answer>",
         [19, 36, 55, 7], 65),
        ("correct, 1 MB of spaces, then '*0'", "x</think><answer>55+36-7-19" + " " * MB + "*0</answer>",
         [19, 36, 55, 7], 65),
        ("512 KB of spaces, correct, 512 KB of newlines",
         "x</think><answer>" + " " * (MB // 2) + "55+36-7-19" + "\n" * (MB // 2) + "</answer>", [19, 36, 55, 7], 65),
        ("1 MB of U+3000 (ideographic space), correct",
         "x</think><answer>" + "\u3000" * MB + "55+36-7-19</answer>", [19, 36, 55, 7], 65),
    ]


def time_one_call(score, completion, nums, target, budget_s: float = 0.05) -> float:
    """Best-of time of one call, in seconds (enough repeats to beat timer noise)."""
    t0 = clock()
    score(completion, nums, target)
    first = clock() - t0
    number = max(1, min(2000, int(0.002 / max(first, 1e-7))))
    best = first
    for _ in range(max(3, min(20, int(budget_s / max(first * number, 1e-6))))):
        t0 = clock()
        for _ in range(number):
            score(completion, nums, target)
        best = min(best, (clock() - t0) / number)
    return best


def reference_in_subprocess(index: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--reference-case", str(index)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=REFERENCE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"status": f"hung (killed after {REFERENCE_TIMEOUT_S:g} s)", "seconds": None, "reward": None}
    if proc.returncode != 0:
        return {"status": f"crashed (exit {proc.returncode})", "seconds": None, "reward": None}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def adversarial() -> list[dict]:
    rows = []
    for i, (name, completion, nums, target) in enumerate(adversarial_cases()):
        verdict = verify(completion, nums, target)
        ours = time_one_call(ours_score, completion, nums, target)
        ref = reference_in_subprocess(i)
        rows.append({"case": name, "chars": len(completion), "ours_s": ours, "ours_reason": verdict.reason,
                     "eval_s": ref["seconds"], "eval_status": ref["status"], "eval_reward": ref["reward"]})
    return rows


# --- report -------------------------------------------------------------------------------------

def fmt_time(s):
    return "—" if s is None else (f"{s * 1e6:8.1f} µs" if s < 1e-3 else f"{s * 1e3:8.2f} ms")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="completions in the realistic mix")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--reference-case", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.reference_case is not None:  # child process: time the eval scorer on one case
        _, completion, nums, target = adversarial_cases()[args.reference_case]
        reward = reference_score(completion, nums, target)
        seconds = time_one_call(reference_score, completion, nums, target)
        print(json.dumps({"status": "ok", "seconds": seconds, "reward": reward}))
        return {}

    print(f"building a mix of {args.n} completions from the solver and synthetic tasks ...", file=sys.stderr)
    mix = build_mix(args.n, args.seed)
    print(f"timing both scorers, best of {args.repeats} passes ...", file=sys.stderr)
    mixed = throughput(mix, args.repeats)
    print("adversarial cases (the eval scorer in a subprocess each) ...", file=sys.stderr)
    adv = adversarial()

    print(f"\nRealistic mix: {mixed['n']} completions (CPU time, best of {args.repeats} passes per chunk)")
    print(f"{'kind':<16}{'n':>6}{'ours /s':>12}{'eval /s':>12}{'ours/eval':>11}")
    for kind, row in mixed["per_kind"].items():
        print(f"{kind:<16}{row['n']:>6}{row['ours_per_s']:>12,.0f}{row['eval_per_s']:>12,.0f}{row['ratio']:>10.2f}×")
    print(f"{'all':<16}{mixed['n']:>6}{mixed['ours_per_s']:>12,.0f}{mixed['eval_per_s']:>12,.0f}"
          f"{mixed['ratio']:>10.2f}×")
    print(f"verdicts: {mixed['verdicts_agree']} agree, {mixed['verdicts_differ']} differ "
          "(the eval scorer reads the first answer block, accepts ** // and float-close values, "
          "rejects 'expr = target')")

    print("\nAdversarial inputs: time of one call")
    print(f"{'case':<62}{'ours':>12}  {'reason':<16}{'eval':>12}  eval outcome")
    for r in adv:
        outcome = r["eval_status"] if r["eval_s"] is None else f"reward {r['eval_reward']}"
        print(f"{r['case']:<62}{fmt_time(r['ours_s']):>12}  {r['ours_reason']:<16}{fmt_time(r['eval_s']):>12}  {outcome}")
    slowest = max(adv, key=lambda r: r["ours_s"])
    print(f"\nslowest input for ours: {slowest['case']} — {fmt_time(slowest['ours_s']).strip()} "
          f"(target < 1 ms: {'met' if slowest['ours_s'] < 1e-3 else 'NOT met'}; non-ASCII whitespace is the "
          "one kind str.strip() scans at ~2-4 ns a character instead of ~0.4); "
          f"throughput {mixed['ratio']:.2f}× eval's (target ≥ 1.0×: {'met' if mixed['ratio'] >= 1 else 'NOT met'})")

    result = {
        "command": "python benchmarks/verifier.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "python": sys.version.split()[0],
        "mix": {"kinds": KINDS, **mixed},
        "adversarial": adv,
        "slowest_ours": {"case": slowest["case"], "seconds": slowest["ours_s"]},
        "targets": {"ratio_at_least": 1.0, "max_seconds_per_input": 1e-3},
        "targets_met": {"ratio": mixed["ratio"] >= 1.0, "max_seconds": slowest["ours_s"] < 1e-3},
        "reference_timeout_s": REFERENCE_TIMEOUT_S,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return result


if __name__ == "__main__":
    main()
