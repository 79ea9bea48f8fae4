"""The package layout the README describes: small modules, no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

from buildpack.core.settings import buildpack_root

PACKAGE = buildpack_root() / "buildpack"
# The error catalogue is data: one entry per message, long by nature.
MAY_BE_LONG = {"core/errors.py"}
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports_at_load(path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules imported when ``path`` is loaded: top-level imports only, not
    those under ``if TYPE_CHECKING:`` or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in modules else node.module)
    return {name for name in found if name in modules}


def test_no_module_is_over_the_size_limit() -> None:
    too_long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
        and str(path.relative_to(PACKAGE)) not in MAY_BE_LONG
    }
    assert too_long == {}


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {name: _imports_at_load(path, modules) for name, path in modules.items()}
    # A package's __init__ is loaded before its submodules: an edge to it counts.
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_cycle_check_can_see_a_cycle(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    a.write_text("from buildpack.cache import cache\nimport buildpack.core.errors\n")
    assert _imports_at_load(a, _modules()) == {"buildpack.cache.cache", "buildpack.core.errors"}
