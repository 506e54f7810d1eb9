"""The reference's table at small scale: the cold-start baseline vs the GRPO-trained tiny model
on the 500 held-out test tasks, from the embedded run's summary (running it if absent).

    .venv/bin/python benchmarks/tiny_r1.py               # reuse runs/tiny-r1-countdown/summary.json
    .venv/bin/python benchmarks/tiny_r1.py --fresh       # run `cli.py train` first (~30 min on 2 cores)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "runs" / "tiny-r1-countdown"


def main():
    summary = RUN / "summary.json"
    if "--fresh" in sys.argv or not summary.is_file():
        subprocess.run([sys.executable, "cli.py", "train"], cwd=ROOT, check=True)
    s = json.loads(summary.read_text())
    t = s["test"]
    print(s["table"])
    print(f"\nGRPO gain on {t['tasks']} test tasks: {t['gain_points']:+.1f} points "
          f"({t['baseline']['correct']} -> {t['trained']['correct']}); scorer: {t['trained'].get('scorer')}")
    print(f"final model from {s['final_from']} (chosen on the validation split); GRPO steps {s['global_step']}, "
          f"GRPO {s['grpo_seconds'] / 60:.1f} min, whole command {s['wall_seconds'] / 60:.1f} min")


if __name__ == "__main__":
    main()
