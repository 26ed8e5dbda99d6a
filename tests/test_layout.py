"""Who may import whom: the folder rules of the package, checked on its source.

Every module under ``topics/`` is parsed with :mod:`ast` (nothing is imported),
and every import statement is collected: at module level and inside functions,
``import x`` and ``from x import y`` (``y`` counts as the module ``x.y`` when it
is one), relative imports resolved against the module's package. Imports under
``if TYPE_CHECKING:`` count for the folder rules (a folder that names a type
depends on it) but not for cycles (they never run).

The lean predict path is also checked at run time, in a fresh interpreter:
``modules_loaded_by_predict`` in tests/conftest.py, used by tests/test_predict.py.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = "topics"
STDLIB = frozenset(sys.stdlib_module_names)


@dataclass(frozen=True)
class Import:
    """One imported module, as written in ``source`` (a module of the package)."""

    source: str
    target: str
    line: int
    function_level: bool
    type_checking: bool

    @property
    def top(self) -> str:
        return self.target.split(".")[0]

    def within(self, *prefixes: str) -> bool:
        """The target is one of ``prefixes`` or a module below it."""
        return any(self.target == p or self.target.startswith(p + ".") for p in prefixes)

    def __str__(self) -> str:
        where = "function-level" if self.function_level else "module-level"
        if self.type_checking:
            where += ", TYPE_CHECKING"
        return f"{module_path(self.source)}:{self.line} imports {self.target} ({where})"


def module_name(path: Path, root: Path) -> str:
    """``topics/data/corpus.py`` -> ``topics.data.corpus``; a package is its ``__init__``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def module_path(name: str) -> str:
    """Where module ``name`` lives, relative to the repository."""
    path = REPO / Path(*name.split("."))
    return (
        f"{name.replace('.', '/')}/__init__.py" if path.is_dir() else f"{path.relative_to(REPO)}.py"
    )


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def collect_imports(
    tree: ast.Module, source: str, is_package: bool, known: Iterable[str]
) -> list[Import]:
    """Every import of ``tree`` (the module ``source``); ``known``: the package's modules,
    to tell ``from topics.data import corpus`` (a module) from ``from topics.config import X``."""
    known = set(known)
    package = source if is_package else source.rpartition(".")[0]
    found: list[Import] = []

    def resolve(node: ast.ImportFrom) -> str:
        if node.level == 0:
            return node.module or ""
        base = package.split(".")
        if node.level > 1:
            base = base[: -(node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))

    def targets_of(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        base = resolve(node)
        return [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
            for alias in node.names
        ]

    def visit(node: ast.AST, in_function: bool, in_type_checking: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                visit(ast.Module(body=child.body, type_ignores=[]), in_function, True)
                visit(ast.Module(body=child.orelse, type_ignores=[]), in_function, in_type_checking)
                continue
            function = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in dict.fromkeys(targets_of(child)):
                    found.append(
                        Import(source, target, child.lineno, in_function, in_type_checking)
                    )
            visit(child, function, in_type_checking)

    visit(tree, False, False)
    return found


def package_imports(root: Path = REPO) -> list[Import]:
    """The imports of every module under ``root/topics``."""
    files = sorted((root / PACKAGE).rglob("*.py"))
    names = {path: module_name(path, root) for path in files}
    imports: list[Import] = []
    for path, name in names.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        imports += collect_imports(tree, name, path.name == "__init__.py", names.values())
    return imports


IMPORTS = package_imports()
MODULES = sorted({module_name(p, REPO) for p in (REPO / PACKAGE).rglob("*.py")})


def in_folder(source: str, *folders: str) -> bool:
    """``source`` is one of ``folders`` (module or package) or lives below one."""
    return any(source == f or source.startswith(f + ".") for f in folders)


def only_imports(
    folders: tuple[str, ...], third_party: set[str], own: tuple[str, ...], exact: tuple[str, ...]
) -> Callable[[list[Import]], list[Import]]:
    """Modules in ``folders`` import only the standard library, ``third_party``,
    the package modules under ``own``, and the modules in ``exact``."""

    def offending(imports: list[Import]) -> list[Import]:
        return [
            imp
            for imp in imports
            if in_folder(imp.source, *folders)
            and imp.top not in STDLIB
            and imp.top not in third_party
            and not (imp.top == PACKAGE and (imp.within(*own) or imp.target in exact))
        ]

    return offending


def imports_none_of(
    folders: tuple[str, ...], forbidden: tuple[str, ...]
) -> Callable[[list[Import]], list[Import]]:
    """Modules in ``folders`` import nothing under ``forbidden``."""

    def offending(imports: list[Import]) -> list[Import]:
        return [
            imp for imp in imports if in_folder(imp.source, *folders) and imp.within(*forbidden)
        ]

    return offending


def only_tracking_imports_mlflow(imports: list[Import]) -> list[Import]:
    tracking = "topics.tracking"
    return [imp for imp in imports if imp.top == "mlflow" and not in_folder(imp.source, tracking)]


RULES: dict[str, Callable[[list[Import]], list[Import]]] = {
    # The predict path: what a bundle needs to score text, and nothing of training.
    "serve-imports-only-stdlib-numpy-tokenizers-kernels-text-errors": only_imports(
        folders=("topics.serve", "topics.predict"),
        third_party={"numpy", "tokenizers"},
        own=("topics.kernels", "topics.text", "topics.errors", "topics.serve"),
        exact=("topics",),  # topics/__init__.py, for __version__
    ),
    "kernels-import-only-stdlib-numpy-tokenizers-text-errors": only_imports(
        folders=("topics.kernels",),
        third_party={"numpy", "tokenizers"},
        own=("topics.kernels", "topics.text", "topics.errors"),
        exact=(),
    ),
    "families-import-no-config-tracking-run-cli-serve": imports_none_of(
        folders=("topics.families",),
        forbidden=("topics.config", "topics.tracking", "topics.run", "topics.cli", "topics.serve"),
    ),
    "data-and-evaluate-import-no-config-tracking-run-cli": imports_none_of(
        folders=("topics.data", "topics.evaluate"),
        forbidden=("topics.config", "topics.tracking", "topics.run", "topics.cli"),
    ),
    "only-tracking-imports-mlflow": only_tracking_imports_mlflow,
}


@pytest.mark.parametrize("rule", list(RULES), ids=list(RULES))
def test_folder_import_rule(rule: str) -> None:
    offending = RULES[rule](IMPORTS)
    assert not offending, f"{rule}: {len(offending)} import(s) break it:\n" + "\n".join(
        f"  {imp}" for imp in offending
    )


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """One cycle per strongly connected group of package modules importing each other
    (at module or function level: a late import is still a dependency; only
    ``TYPE_CHECKING`` imports are left out), as ``[a, b, ..., a]``."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.top == PACKAGE and not imp.type_checking and imp.target != imp.source:
            graph.setdefault(imp.source, set()).add(imp.target)
    cycles = []
    for group in _strongly_connected(graph):
        if len(group) > 1:
            cycles.append(_cycle_through(min(group), graph, group))
    return sorted(cycles)


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (the graph is small, but recursion depth is not ours)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def _cycle_through(start: str, graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """The shortest path from ``start`` back to itself inside ``group`` (breadth first)."""
    parents: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(graph.get(node, set()) & group):
                if successor == start:
                    path = [node]
                    while (parent := parents[path[-1]]) is not None:
                        path.append(parent)
                    return [*reversed(path), start]
                if successor not in parents:
                    parents[successor] = node
                    following.append(successor)
        frontier = following
    raise AssertionError(f"{start} is in a cycle but none was found")  # pragma: no cover


def test_no_import_cycles_between_modules() -> None:
    cycles = import_cycles(IMPORTS)
    assert not cycles, "import cycles:\n" + "\n".join("  " + " -> ".join(cycle) for cycle in cycles)


# --- the checker itself ---------------------------------------------------------------


def _imports_of(
    code: str, source: str = "topics.data.corpus", is_package: bool = False
) -> list[str]:
    known = {"topics", "topics.data", "topics.data.splits", "topics.text", "topics.config"}
    tree = ast.parse(code)
    return [
        f"{imp.target}{'@f' if imp.function_level else ''}{'@tc' if imp.type_checking else ''}"
        for imp in collect_imports(tree, source, is_package, known)
    ]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import numpy.linalg as la", ["numpy.linalg"]),
        ("from topics.config import DataConfig", ["topics.config"]),
        ("from topics import config, __version__", ["topics.config", "topics"]),
        ("from . import splits", ["topics.data.splits"]),
        ("from .splits import split_indices", ["topics.data.splits"]),
        ("from ..text import TopicTokenizer", ["topics.text"]),
        ("def f():\n    import sklearn\n", ["sklearn@f"]),
        ("class A:\n    def m(self):\n        from topics import config\n", ["topics.config@f"]),
        ("if TYPE_CHECKING:\n    from topics.config import X\n", ["topics.config@tc"]),
        ("if TYPE_CHECKING:\n    import a\nelse:\n    import b\n", ["a@tc", "b"]),
    ],
    ids=[
        "import-as",
        "from-module",
        "from-package-a-module-and-a-name",
        "relative-module",
        "relative-name",
        "relative-parent",
        "function-level",
        "method-level",
        "type-checking",
        "type-checking-else-runs",
    ],
)
def test_the_checker_sees_every_form_of_import(code: str, expected: list[str]) -> None:
    assert _imports_of(code) == expected


def test_relative_imports_in_a_package_init_resolve_against_the_package() -> None:
    assert _imports_of("from .splits import x", source="topics.data", is_package=True) == [
        "topics.data.splits"
    ]


def test_the_checker_finds_a_cycle() -> None:
    def imp(source: str, target: str) -> Import:
        return Import(source, target, 1, function_level=False, type_checking=False)

    imports = [
        imp("topics.a", "topics.b"),
        imp("topics.b", "topics.c"),
        imp("topics.c", "topics.a"),
    ]
    assert import_cycles(imports) == [["topics.a", "topics.b", "topics.c", "topics.a"]]
    late = Import("topics.c", "topics.a", 1, function_level=True, type_checking=False)
    assert import_cycles([*imports[:2], late]) == [["topics.a", "topics.b", "topics.c", "topics.a"]]
    typing_only = Import("topics.c", "topics.a", 1, function_level=False, type_checking=True)
    assert import_cycles([*imports[:2], typing_only]) == []


def test_every_module_of_the_package_is_parsed() -> None:
    sources = {imp.source for imp in IMPORTS}
    assert {"topics.serve.predictor", "topics.data.corpus", "topics.tracking.store"} <= sources
    assert len(MODULES) >= 50
