"""The package layout: evaluation stands alone, and no two modules import each other in a loop."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import bcl_rec

PACKAGE = Path(bcl_rec.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def top_level_imports(path: Path, modules: set[str], tree: ast.Module | None = None) -> set[str]:
    """bcl_rec modules imported at module level (inside if/try too, not under TYPE_CHECKING)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)  # from pkg import module
            elif isinstance(node, ast.If) and not _type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)

    visit((tree or ast.parse(path.read_text(encoding="utf-8"))).body)
    return {m for m in found if m in modules and m != name}


def all_imports(path: Path, modules: set[str]) -> set[str]:
    """bcl_rec modules imported anywhere in ``path`` (function bodies too), not for typing."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _type_checking(node)
        for n in ast.walk(node)
    }
    body = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)
            and id(n) not in typing_only]
    module = ast.Module(body=body, type_ignores=[])
    return top_level_imports(path, modules, module)


def import_graph(everywhere: bool = False) -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(f) for f in files}
    edges = all_imports if everywhere else top_level_imports
    graph = {module_name(f): edges(f, modules) for f in files}
    # a package's __init__ importing its own modules is how packages work, not a cycle
    return {name: {d for d in deps if not name.startswith(d + ".")} for name, deps in graph.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node], _ = 1, path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := dfs(start)):
            return cycle
    return None


def test_find_cycle_sees_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_real_imports() -> None:
    graph = import_graph()
    assert "bcl_rec.training.sampler" in graph["bcl_rec.training.trainer"]
    assert "bcl_rec.losses.base" in graph["bcl_rec.losses.bpr"]  # relative import resolved


@pytest.mark.parametrize("everywhere", [False, True], ids=["module-level", "with-lazy-imports"])
def test_no_import_cycle_between_modules(everywhere: bool) -> None:
    graph = import_graph(everywhere)
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_lazy_imports_are_edges_too() -> None:
    assert "bcl_rec.data.download" in import_graph(everywhere=True)["bcl_rec.data.registry"]
    assert "bcl_rec.data.download" not in import_graph()["bcl_rec.data.registry"]


def test_evaluation_does_not_load_training_or_losses() -> None:
    """Every module of bcl_rec.evaluation, imported in a fresh interpreter."""
    modules = sorted(module_name(f) for f in (PACKAGE / "evaluation").glob("*.py"))
    assert "bcl_rec.evaluation.ranking" in modules
    code = (
        f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('bcl_rec.training', "
        "'bcl_rec.losses'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=PACKAGE.parent,
    )
    assert out.stdout.strip() == "[]"
