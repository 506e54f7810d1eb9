"""The layers of the codebase (scripts/import_layers.py): the checkout keeps them, and the check
can fail — on a tree with an upward import, a sideways one, a cycle and a private name.

    .venv/bin/python -m pytest -q tests/test_import_layers.py
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "import_layers.py"


def run(root=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *([str(root)] if root else [])], capture_output=True,
                          text=True, timeout=60)


def test_the_checkout_imports_only_downward():
    r = run()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "evaluation -> serve" not in r.stdout and "no upward or sideways import, no cycle" in r.stdout


def test_each_kind_of_violation_is_reported(tmp_path):
    files = {
        "cli.py": "COMMANDS = {'x': 'train.a:main'}\n",
        "common/__init__.py": "",
        "common/base.py": "from tasks.t import thing\n",                        # the ground imports up
        "tasks/__init__.py": "",
        "tasks/t.py": "thing = 1\n",
        "train/__init__.py": "",
        "train/a.py": "from .b import x\ndef main():\n    pass\n",
        "train/b.py": "from .a import main as x\nfrom tasks.t import _hidden\n",  # a cycle; a private name
        "evaluation/__init__.py": "",
        "evaluation/e.py": "def f():\n    from serve.s import y\n",          # sideways, inside a function
        "serve/__init__.py": "",
        "serve/s.py": "y = 1\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    r = run(tmp_path)
    assert r.returncode == 1, r.stdout
    assert "common/base.py:1: common imports tasks.t" in r.stdout
    assert "evaluation/e.py:2: evaluation imports serve.s" in r.stdout
    assert "import cycle: train.a -> train.b" in r.stdout
    assert "imports the private name _hidden from tasks.t" in r.stdout
    assert "4 violation(s)" in r.stdout
