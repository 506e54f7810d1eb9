"""The CLI lists every command, each with its one-line description, without importing torch (fast start)."""

import subprocess
import sys

from tests.conftest import ROOT

COMMANDS = ["data", "train", "evaluate", "serve", "demo", "verify"]


def test_help_lists_all_commands_without_torch():
    code = ("import sys, runpy; sys.argv=['cli.py','--help']\ntry: runpy.run_path('cli.py', run_name='__main__')\n"
            "except SystemExit: pass\nprint('TORCH' if 'torch' in sys.modules else 'NOTORCH')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    assert out.strip().splitlines()[-1] == "NOTORCH"
    listed = out.split("\nCommands:\n", 1)[1].strip().splitlines()[:-1]  # the last line is the torch probe
    names = [line.split()[0] for line in listed]
    assert names == COMMANDS, listed  # exactly these, in the order the README gives them
    for line in listed:
        description = line.split(None, 1)[1:]
        assert description and len(description[0]) > 20, f"no one-line description: {line!r}"
