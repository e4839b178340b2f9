"""The package's shape, checked from its source (ast): no import cycles between modules
or between folders, no private name imported from another module, classes short enough
to read in one sitting, and one driver loop of about 60 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "garay"
# Kept at their old paths for users and docs (one-line re-exports): no room of their own.
SHIMS = {"garay.workers", "garay.standin", "garay.genome", "garay.weights", "garay.evaluation"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it): every import, also those inside functions."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("garay") and not node.level:
            for alias in node.names:  # `from garay.results import callbacks` imports a module
                sub = f"{node.module}.{alias.name}"
                out.append((sub, []) if sub in modules else (node.module, [alias.name]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.startswith("garay")]
    return [(m, names) for m, names in out if m in modules and m != name]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {m for m, _ in _imports(name, path, modules)} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _folder(module: str) -> str:
    """A module's room: its folder inside garay (garay.results.ledger -> garay.results),
    or itself for a top-level module."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_module_imports_itself_round_a_loop():
    graph = {m: deps for m, deps in _graph().items() if not m.endswith("__init__")}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_no_folder_imports_itself_round_a_loop():
    """Arrows between the folders (search, strategies, fidelity, execution, results,
    config, data) point one way. A package's __init__ only hands names on; the shims at
    the old paths are not rooms."""
    folders: dict[str, set[str]] = {}
    for module, deps in _graph().items():
        if module in SHIMS or module == "garay":
            continue
        for dep in deps:
            if dep not in SHIMS and dep != "garay" and _folder(dep) != _folder(module):
                folders.setdefault(_folder(module), set()).add(_folder(dep))
    assert _cycle(folders) is None, " -> ".join(_cycle(folders) or [])


def test_no_private_name_is_imported_from_another_module():
    modules = _modules()
    taken = [f"{name} takes {m}.{n}" for name, path in modules.items()
             for m, names in _imports(name, path, modules) for n in names if n.startswith("_")]
    assert not taken, taken


def test_classes_are_short_and_the_driver_loop_is_about_sixty_lines():
    long = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > 210:  # about 200
                long.append(f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not long, long
    tree = ast.parse((PACKAGE / "strategies" / "driver.py").read_text())
    [drive] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "drive"]
    assert drive.end_lineno - drive.lineno + 1 <= 60
