"""Modules and functions a reader can hold: no module of bench_lib or benchmarks over
:data:`MODULE_LINES` lines, no function over :data:`FUNCTION_LINES` (from its ``def`` to its last
line), except a function whose ``def`` (or first decorator) has ``# long function: <why>`` on the
line above."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULE_LINES, FUNCTION_LINES = 500, 60
MARKER = "# long function:"


def _sources() -> list[Path]:
    return sorted([*ROOT.glob("bench_lib/**/*.py"), *ROOT.glob("benchmarks/*.py")])


def _long_functions(source: str) -> list[tuple[str, int, int]]:
    lines = source.splitlines()
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            explained = first >= 2 and lines[first - 2].strip().startswith(MARKER) and \
                len(lines[first - 2].strip()) > len(MARKER) + 10
            if length > FUNCTION_LINES and not explained:
                out.append((node.name, node.lineno, length))
    return out


def test_no_module_is_too_long_to_hold():
    long = {str(p.relative_to(ROOT)): n for p in _sources() if (n := p.read_text().count("\n"))
            > MODULE_LINES}
    assert long == {}


def test_no_function_is_too_long_to_hold_unless_it_says_why():
    long = {f"{p.relative_to(ROOT)}:{line} {name}": n for p in _sources()
            for name, line, n in _long_functions(p.read_text())}
    assert long == {}


def test_the_checker_counts_a_function_and_reads_its_reason():
    body = "".join(f"    x{i} = {i}\n" for i in range(FUNCTION_LINES))
    assert _long_functions(f"def f():\n{body}") == [("f", 1, FUNCTION_LINES + 1)]
    assert _long_functions(f"# long function: one pass the compiler must see whole\ndef "
                           f"f():\n{body}") == []
    assert _long_functions(f"# long function:\ndef f():\n{body}") == [("f", 2, FUNCTION_LINES + 1)]
    assert _long_functions(f"def f():\n{body[:-12]}") == []
