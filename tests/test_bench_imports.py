"""What importing the benchmarks costs, and what the rest of cvxcnn may use of them."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BODIES = ("scaling", "gap", "ablation", "robustness", "mri")


def _modules_after(statement: str) -> list[str]:
    """``cvxcnn.bench*`` and ``matplotlib*`` modules loaded by ``statement`` (fresh process)."""
    code = (
        f"import json, sys\n{statement}\n"
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.startswith(('cvxcnn.bench', 'matplotlib')))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_cvxcnn_does_not_import_bench() -> None:
    assert _modules_after("import cvxcnn") == []


def test_import_bench_is_lazy() -> None:
    assert _modules_after("import cvxcnn.bench") == ["cvxcnn.bench"]
    loaded = _modules_after(
        "from cvxcnn.bench import BENCHMARKS, SIZES, run_benchmark\n"
        "import cvxcnn.bench.runner, cvxcnn.bench.report, cvxcnn.bench.models"
    )
    assert not [m for m in loaded if m.startswith("matplotlib")], loaded
    assert not [m for m in loaded if m.rsplit(".", 1)[-1] in BODIES], loaded


def test_benchmark_module_imports_no_matplotlib() -> None:
    loaded = _modules_after("import " + ", ".join(f"cvxcnn.bench.{b}" for b in BODIES))
    assert not [m for m in loaded if m.startswith("matplotlib")], loaded


def _bench_imports(path: Path) -> list[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cvxcnn.bench"):
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("cvxcnn.bench")]
    return found


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (ROOT / "cvxcnn").rglob("*.py") if "bench" not in p.relative_to(ROOT).parts),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_rest_of_cvxcnn_uses_only_the_stable_entry_points(path: Path) -> None:
    # cvxcnn.bench.cli_bench is tolerated until the CLI package defines its own subparser
    allowed = {"BENCHMARKS", "SIZES", "run_benchmark"}
    for module, names in _bench_imports(path):
        if module == "cvxcnn.bench.cli_bench":
            continue
        assert module == "cvxcnn.bench" and set(names) <= allowed, (module, names)


def test_no_private_module_imported_across_bench() -> None:
    for path in [*(ROOT / "cvxcnn" / "bench").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")]:
        for module, names in _bench_imports(path):
            private = [n for n in [module.rsplit(".", 1)[-1], *names] if n.startswith("_")]
            assert not private, (path.name, module, names)
