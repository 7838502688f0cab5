"""Habits that keep the one pipeline one: no import cycles, no private names across modules.

The package's imports are read with ``ast`` (every import, module level and
inside functions alike), so a cycle hidden behind a lazy import fails too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cvxcnn"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, ast.Module]:
    return {_module_name(p): ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(tree: ast.Module, known: set[str]) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every cvxcnn import in ``tree``."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cvxcnn"):
            names = [a.name for a in node.names]
            # ``from cvxcnn.pkg import submodule`` imports the submodule
            subs = [f"{node.module}.{n}" for n in names if f"{node.module}.{n}" in known]
            out.append((node.module, [n for n in names if f"{node.module}.{n}" not in known]))
            out.extend((s, []) for s in subs)
        elif isinstance(node, ast.Import):
            out.extend((a.name, []) for a in node.names if a.name.startswith("cvxcnn"))
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph = {}
    for name, tree in modules.items():
        targets = set()
        for target, _ in _imports(tree, known):
            if target in known and target != name and not name.startswith(target + "."):
                targets.add(target)  # a module importing its own package's __init__ is fine
        graph[name] = targets
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycles():
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_cycle_detector_finds_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_private_name_imported_across_modules():
    modules = _modules()
    known = set(modules)
    offenders = []
    for name, tree in modules.items():
        for target, names in _imports(tree, known):
            private_module = any(part.startswith("_") for part in target.split("."))
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            if (private or private_module) and target != name:
                offenders.append(f"{name} imports {private or target} from {target}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("name", ["cvxcnn", "cvxcnn.cli"])
def test_importing_the_package_loads_no_benchmark_or_plotting_code(name):
    import subprocess
    import sys

    code = (
        f"import sys, {name}; "
        "bad = [m for m in sys.modules if m.startswith(('cvxcnn.bench', 'matplotlib', 'torch'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
