"""No function in the package is longer than a screen: long ones are where newcomers get lost."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "amae"
#: the longest a function (signature, docstring and body) may be
MAX_LINES = 60


def long_functions(source: str, name: str) -> list[str]:
    """``name:line function (n lines)`` for every function of ``source`` over :data:`MAX_LINES`."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
            if length > MAX_LINES:
                out.append(f"{name}:{node.lineno} {node.name} ({length} lines)")
    return out


def test_no_function_over_the_limit() -> None:
    found = [f for path in sorted(SRC.rglob("*.py"))
             for f in long_functions(path.read_text(encoding="utf-8"), str(path.relative_to(SRC.parent)))]
    assert not found, "split these into named helpers:\n" + "\n".join(found)


def test_the_check_sees_a_long_function() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    assert long_functions(f"def f():\n{body}\n", "m.py") == [f"m.py:1 f ({MAX_LINES + 1} lines)"]
    assert long_functions("def g():\n    return 1\n", "m.py") == []
