"""train/distributed.py's end of a launch: every rank waits for the others, then destroys its group.

Why: rank 0 alone writes final/ after training while the others have nothing left to do. A rank
that exited then, with its gloo group alive, aborted at interpreter teardown (SIGABRT, "terminate
called without an active exception") in a CI run of the ZeRO-3 launch, and torchrun killed rank 0
mid-export. The abort itself is a race that a test cannot call up on demand; what it needs (no rank
leaves before the others are done, and none leaves with its group alive) is checked here, on 2
real gloo processes started by torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.train.conftest import ROOT

WORKER = """
import json, sys, time
import torch.distributed as dist
from train.distributed import leave_process_group, rank

dist.init_process_group("gloo")
parts = [None, None]
dist.all_gather_object(parts, rank())          # the group has carried traffic, as after training
if rank() == 0:
    time.sleep(1.5)                             # rank 0's work alone: final/, the plots, the summary
done = time.time()
leave_process_group()
row = {"rank": rank(), "work_done": done, "left": time.time(), "group_alive": dist.is_initialized()}
with open(f"{sys.argv[1]}/rank{rank()}.json", "w") as f:  # one file each: two stdouts interleave
    json.dump(row, f)
"""


@pytest.mark.slow  # two torch imports under torchrun: ~20 s
def test_no_rank_leaves_before_the_others_and_none_with_its_group_alive(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        str(script), str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stderr[-3000:]
    rows = {d["rank"]: d for d in (json.loads(p.read_text()) for p in tmp_path.glob("rank*.json"))}
    assert sorted(rows) == [0, 1]
    assert rows[1]["left"] >= rows[0]["work_done"], "rank 1 left while rank 0 was still at work"
    assert not rows[0]["group_alive"] and not rows[1]["group_alive"]


def test_a_process_without_a_group_just_returns():
    from train.distributed import leave_process_group

    leave_process_group()  # one process, no launch: nothing to wait for, nothing to destroy
