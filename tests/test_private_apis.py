"""The project reaches a library's private name (leading underscore) only where no public one does, and
each such place is listed in common/private_api.py with the versions it was written for. Under each
dependency set (`make test`: the CPU pins; `make test-gpu-set`: the GPU pins) this checks that every
listed name is there in the installed library at a listed version, and that the source reaches no other
private name of vLLM, TRL, transformers, lm-eval or accelerate.

    .venv/bin/python -m pytest -q tests/test_private_apis.py
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import inspect
import re
import warnings

import pytest

from common import private_api
from tests.conftest import ROOT

LIBRARIES = ("vllm", "trl", "transformers", "lm_eval", "accelerate")
PROJECT_DIRS = ("common", "tasks", "train", "evaluation", "serve", "tests", "benchmarks", "scripts")


def _owner(path: str):
    module, _, cls = path.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, cls) if cls else obj


@pytest.mark.parametrize("use", private_api.USES, ids=lambda u: f"{u.library}:{u.where}")
def test_each_listed_private_name_is_there_at_a_listed_version(use):
    installed = md.version(use.library)
    assert installed in use.written_for, (f"{use.where} was written for {use.library} {use.written_for}, "
                                          f"installed {installed}: check {use.names} and update common/private_api.py")
    owner = _owner(use.owner)
    source = inspect.getsource(owner)
    for name in use.names:  # an attribute, or an instance attribute its source sets
        assert hasattr(owner, name) or f"self.{name} =" in source, f"{use.owner} has no {name} in {use.library} {installed}"
    importlib.import_module(use.where)


def test_check_warns_only_for_an_unlisted_version(monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        private_api.check("train.dynamic_sampling")  # the installed pin: silent
    monkeypatch.setattr(private_api.md, "version", lambda name: "0.0.1")
    with pytest.warns(RuntimeWarning, match=r"train.dynamic_sampling uses trl's private .*written for trl 1.16.0; "
                                            r"installed: 0.0.1"):
        private_api.check("train.dynamic_sampling")


def _sources():
    for d in PROJECT_DIRS:
        yield from sorted((ROOT / d).rglob("*.py"))
    yield ROOT / "cli.py"


ACCESS = re.compile(r"([A-Za-z_][\w]*|\))\.(_[a-z][\w]*)\b")
DEFINED = re.compile(r"(?:def |self\.|^\s*)(_[a-z]\w*)\s*(?:\(|=[^=]|:)", re.M)
PRIVATE_IMPORT = re.compile(rf"^\s*from ({'|'.join(LIBRARIES)})[\w.]* import [^#\n]*\b_[a-z]", re.M)
# The project's own private names reached from outside their object (a test measuring a callback).
# tests/scored_run.py stands in for train.run_report._score (scoring needs a model; the fixture run has none).
PROJECT_OWN = {("tests/train/test_checkpoint_choice.py", "_measure"), ("tests/scored_run.py", "_score"),
               ("tests/train/test_grpo_step.py", "_counts")}


def test_no_unlisted_private_use_of_a_library():
    """A heuristic over the source: `obj._name` where obj is not self/cls, or `self._name` where the project
    never defines `_name`, is a library's private name unless listed. A new one: use the library's public
    API, or list it in common/private_api.py (why, and the versions written for)."""
    texts = {p.relative_to(ROOT).as_posix(): p.read_text() for p in _sources()}
    defined = {n for t in texts.values() for n in DEFINED.findall(t)}
    listed = {(u.where.replace(".", "/") + ".py", n) for u in private_api.USES for n in u.names}
    found = set()
    for path, text in texts.items():
        if path == "tests/test_private_apis.py":
            continue
        assert not PRIVATE_IMPORT.search(text), f"{path} imports a library's private name"
        for obj, name in ACCESS.findall(text):
            if obj not in ("self", "cls") or name not in defined:
                found.add((path, name))
    unlisted = sorted(found - listed - PROJECT_OWN)
    assert not unlisted, f"private names reached outside common/private_api.py: {unlisted}"
