"""Layers depend downwards only (docs/design.md section 11): every ``amae`` import, module level or inside a function.

cli -> experiments / serving -> training -> models -> protocol, features -> data (with config);
compute (where work runs: processes, Dask, lifelines) sits beside data and imports no other layer.
Protocol and features are siblings above data (features may use protocol, not the reverse);
experiments and serving are siblings (neither imports the other). ``amae/__init__.py`` only holds
the version, so importing ``amae`` itself is allowed everywhere; ``__main__`` sits above cli.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE = SRC / "amae"

#: layer rank of each top-level module/package of ``amae``: a module may import a lower rank only
RANKS = {"compute": 0, "data": 0, "config": 0, "protocol": 1, "features": 1, "content": 2, "models": 3, "training": 4,
         "experiments": 5, "serving": 5, "cli": 6, "__main__": 7}
#: (importer, imported) pairs of the same rank that are allowed; any other same-rank pair is not
SAME_RANK_ALLOWED = {("data", "config"), ("config", "data"), ("features", "protocol")}

#: Known upward imports being removed, as (file, imported module): none are left. An entry that no
#: longer occurs fails the suite, so the set cannot keep stale exceptions.
PENDING: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Violation:
    file: str  # relative to the repository root
    line: int
    module: str  # the amae module imported

    def __str__(self) -> str:
        return f"{self.file}:{self.line} imports {self.module}"


def module_name(rel_path: str) -> str:
    """``src/amae/features/text/deep.py`` -> ``amae.features.text.deep`` (a package: its own name)."""
    parts = list(Path(rel_path).relative_to("src").with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str | None:
    """The top-level part of ``amae.<layer>...``; None for ``amae`` itself (the version only)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _resolve_from(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module of a ``from ... import`` (relative ones resolved against ``importer``)."""
    if not node.level:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_submodule(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def imported_modules(source: str, rel_path: str) -> list[tuple[int, str]]:
    """(line, module) of every ``amae`` import in ``source``, wherever it sits (functions included).

    ``from amae import x`` counts as importing ``amae.x`` when ``x`` is a module; a literal
    ``importlib.import_module("amae....")`` counts too.
    """
    importer = module_name(rel_path)
    is_package = Path(rel_path).name == "__init__.py"
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename=rel_path)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve_from(node, importer, is_package)
            if target == "amae":
                found += [(node.lineno, f"amae.{a.name}" if _is_submodule(a.name) else "amae") for a in node.names]
            else:
                found.append((node.lineno, target))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return [(line, m) for line, m in found if m == "amae" or m.startswith("amae.")]


def check_source(source: str, rel_path: str) -> list[Violation]:
    """Every import in one file that goes up a layer or across forbidden siblings."""
    own = layer_of(module_name(rel_path))
    if own is None:  # amae/__init__.py
        return []
    if own not in RANKS:
        raise AssertionError(f"{rel_path}: package '{own}' has no layer in RANKS (add it)")
    out = []
    for line, module in sorted(imported_modules(source, rel_path)):
        target = layer_of(module)
        if target is None or target == own:
            continue
        if target not in RANKS:
            raise AssertionError(f"{rel_path}:{line}: imports {module}, whose package has no layer in RANKS")
        if RANKS[target] > RANKS[own] or (RANKS[target] == RANKS[own] and (own, target) not in SAME_RANK_ALLOWED):
            out.append(Violation(rel_path, line, module))
    return out


def all_violations() -> list[Violation]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        out += check_source(path.read_text(encoding="utf-8"), rel)
    return out


def test_no_upward_or_sibling_imports() -> None:
    unexpected = [v for v in all_violations() if (v.file, v.module) not in PENDING]
    assert not unexpected, "imports against the layers (docs/design.md section 11):\n" + "\n".join(map(str, unexpected))


def test_pending_exceptions_still_occur() -> None:
    occurring = {(v.file, v.module) for v in all_violations()}
    fixed = sorted(PENDING - occurring)
    assert not fixed, ("fixed, so remove from PENDING in tests/test_layers.py:\n"
                       + "\n".join(f"{f} imports {m}" for f, m in fixed))


def test_checker_catches_planted_imports() -> None:
    planted = '''
import numpy as np
from amae.data.io import DataError
from amae.protocol.split import Split


def helper():
    from amae.training.trainer import fit_pointwise
    import amae.serving.bundle
    return fit_pointwise
'''
    found = check_source(planted, "src/amae/data/planted.py")
    assert [str(v) for v in found] == ["src/amae/data/planted.py:4 imports amae.protocol.split",
                                       "src/amae/data/planted.py:8 imports amae.training.trainer",
                                       "src/amae/data/planted.py:9 imports amae.serving.bundle"]
    # siblings: experiments and serving never import each other; features may use protocol, not the reverse
    assert check_source("from amae.experiments.runs import resolve_cell\n", "src/amae/serving/x.py")
    assert check_source("from amae.serving import bundle\n", "src/amae/experiments/x.py")
    assert check_source("from amae.content.posts import ContextEncoder\n", "src/amae/protocol/x.py")
    assert not check_source("from amae.protocol.split import Split\n", "src/amae/features/x.py")
    # relative and dynamic imports resolve to the module they name
    assert [str(v) for v in check_source("from ..training import trainer\n", "src/amae/models/x.py")] \
        == ["src/amae/models/x.py:1 imports amae.training"]
    assert not check_source("from ..training import trainer\n", "src/amae/models/sub/x.py")  # amae.models.training
    assert [v.module for v in check_source("from . import cells\n", "src/amae/training/__init__.py")] == []
    dyn = "import importlib\nimportlib.import_module('amae.cli')\n"
    assert [str(v) for v in check_source(dyn, "src/amae/serving/x.py")] == ["src/amae/serving/x.py:2 imports amae.cli"]
    # downward imports and the root package are fine
    assert not check_source("from amae import __version__\nfrom amae.config import Settings\n",
                            "src/amae/data/x.py")
    assert not check_source("from amae import cli\n", "src/amae/__main__.py")


def module_edges(source: str, rel_path: str) -> set[str]:
    """The ``amae`` modules one file imports (anywhere in it), ``from pkg import sub`` resolved to ``pkg.sub``."""
    importer = module_name(rel_path)
    is_package = Path(rel_path).name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(source, filename=rel_path)):
        if isinstance(node, ast.ImportFrom):
            target = _resolve_from(node, importer, is_package)
            for a in node.names:  # a module by that name, or a name defined in the target itself
                out.add(f"{target}.{a.name}" if _exists(f"{target}.{a.name}") else target)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__"):
            out.add(str(node.args[0].value))
    return {m for m in out if m.startswith("amae.") and m != importer and _exists(m)}


def _exists(module: str) -> bool:
    rel = Path(*module.split("."))
    return (SRC / rel).is_dir() or (SRC / rel.with_suffix(".py")).is_file()


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan): each is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def package_graph() -> dict[str, set[str]]:
    return {module_name(p.relative_to(REPO).as_posix()): module_edges(p.read_text(encoding="utf-8"),
                                                                       p.relative_to(REPO).as_posix())
            for p in sorted(PACKAGE.rglob("*.py"))}


def test_no_import_cycles() -> None:
    cycles = import_cycles(package_graph())
    assert not cycles, "modules that import each other (directly or round a loop):\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


def test_cycle_finder_finds_a_planted_loop() -> None:
    graph = {"amae.a": {"amae.b"}, "amae.b": {"amae.c"}, "amae.c": {"amae.a"}, "amae.d": {"amae.a"}}
    assert import_cycles(graph) == [["amae.a", "amae.b", "amae.c"]]
    assert module_edges("from amae.models import dmf, itempop\n", "src/amae/experiments/x.py") \
        == {"amae.models.dmf", "amae.models.itempop"}
    both = "from amae.models import dmf\n\ndef f():\n    from amae.models import REGISTRY\n    import amae.cli\n"
    assert module_edges(both, "src/amae/experiments/x.py") == {"amae.models.dmf", "amae.models", "amae.cli"}
