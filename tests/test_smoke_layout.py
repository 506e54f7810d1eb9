"""The CLI lists every command without importing torch (fast start)."""

import subprocess
import sys

from tests.conftest import ROOT


def test_help_lists_all_commands_without_torch():
    code = "import sys, runpy; sys.argv=['cli.py','--help']\ntry: runpy.run_path('cli.py', run_name='__main__')\nexcept SystemExit: pass\nprint('TORCH' if 'torch' in sys.modules else 'NOTORCH')"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    for cmd in ("data", "train", "evaluate", "serve", "demo", "verify"):
        assert cmd in out
    assert out.strip().endswith("NOTORCH")
