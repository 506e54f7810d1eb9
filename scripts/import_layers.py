#!/usr/bin/env python
"""The project's import graph, read from the source with `ast` (nothing is imported), checked
against its layers:

    cli.py                    the command line, on top (its lazy COMMANDS table counts as imports)
    train/                    a training run ends by scoring its final model with evaluation/
    evaluation/  serve/       neither imports the other
    tasks/                    the Countdown task: data, prompt, verifier, rewards, lm-eval task
    common/                   the run directory, model references, hardware, caches, errors

Also: no import cycle between modules, and no private name (`_x`) imported from another module.
Prints the layers, the package-level edges and every violation; exits 1 on any.

    python scripts/import_layers.py            # this checkout
    python scripts/import_layers.py DIR        # another tree laid out the same way
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "tasks", "train", "evaluation", "serve")
# What each top-level unit may import from the project (besides itself).
ALLOWED = {
    "common": set(),
    "tasks": {"common"},
    "train": {"common", "tasks", "evaluation"},
    "evaluation": {"common", "tasks"},
    "serve": {"common", "tasks"},
    "cli": {"common", "tasks", "train", "evaluation", "serve"},
}


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_files(root: Path) -> list[Path]:
    files = [root / "cli.py"] if (root / "cli.py").is_file() else []
    for pkg in PACKAGES:
        files += sorted((root / pkg).rglob("*.py"))
    return files


def imports_of(path: Path, root: Path, modules: set[str]) -> list[tuple[str, list[str], int]]:
    """(imported project module, names taken from it, line) for every import in the file,
    function-level imports included."""
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = []
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        # cli.py's lazy command table: {"name": "module:attr"} strings naming what it imports
        if me == "cli" and isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value.count(":") == 1 and node.value.split(":")[0] in modules:
            out.append((node.value.split(":")[0], [node.value.split(":")[1]], node.lineno))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ALLOWED:
                    out.append((alias.name, [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] not in ALLOWED:
                continue
            names = [a.name for a in node.names]
            # `from pkg import submodule` imports the submodule
            subs = [n for n in names if f"{target}.{n}" in modules]
            for n in subs:
                out.append((f"{target}.{n}", [], node.lineno))
            rest = [n for n in names if n not in subs]
            if rest or not subs:
                out.append((target, rest, node.lineno))
    return out


def top(module: str) -> str:
    return module.split(".")[0]


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def main(root: Path = ROOT) -> int:
    files = project_files(root)
    modules = {module_name(f, root) for f in files}
    graph: dict[str, set[str]] = defaultdict(set)
    edges: dict[tuple[str, str], int] = defaultdict(int)
    problems = []
    for f in files:
        me = module_name(f, root)
        for target, names, line in imports_of(f, root, modules):
            where = f"{f.relative_to(root)}:{line}"
            if target not in modules:
                problems.append(f"{where}: imports {target}, which is not a module of the project")
                continue
            if target != me:
                graph[me].add(target)
            a, b = top(me), top(target)
            if a != b:
                edges[(a, b)] += 1
                if b not in ALLOWED[a]:
                    problems.append(f"{where}: {a} imports {target} (a layer {a} may not stand on)")
            for n in names:
                if n.startswith("_") and not n.startswith("__") and target != me:
                    problems.append(f"{where}: imports the private name {n} from {target}")
    for comp in find_cycles(graph):
        problems.append("import cycle: " + " -> ".join(comp))

    print("layers (each imports only from the layers below it):")
    print("  4  cli.py")
    print("  3  train/")
    print("  2  evaluation/  serve/")
    print("  1  tasks/")
    print("  0  common/")
    print("\npackage imports (number of import statements):")
    for (a, b), n in sorted(edges.items()):
        print(f"  {a:<10} -> {b:<10} {n}")
    if problems:
        print(f"\n{len(problems)} violation(s):")
        for p in problems:
            print("  " + p)
        return 1
    print(f"\n{len(modules)} modules: no upward or sideways import, no cycle, no private name across modules")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT))
