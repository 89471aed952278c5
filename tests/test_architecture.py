"""The layering holds: no import cycle anywhere in genre/ (imports inside functions count), no oversized module."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import ClassVar

import grimp

ROOT = Path(__file__).resolve().parent.parent / "genre"
MAX_LINES = 420
"""About 400 lines: past this a module states in its docstring why it is longer ("Longer than 420 lines ...")."""


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = edges[node]
            if i < len(children):
                work.append((node, i + 1))
                child = children[i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return out


def test_no_import_cycle_in_genre_even_through_function_level_imports():
    graph = grimp.build_graph("genre", exclude_type_checking_imports=True)
    assert _cycles(graph) == []


def test_cycle_finder_sees_a_cycle():
    class Graph:
        modules: ClassVar[set[str]] = {"a", "b", "c"}

        def find_modules_directly_imported_by(self, m: str) -> set[str]:
            return {"a": {"b"}, "b": {"c"}, "c": {"a"}}[m]

    assert _cycles(Graph()) == [["a", "b", "c"]]  # type: ignore[arg-type]


def test_no_module_grows_past_the_limit_without_a_stated_reason():
    too_long = []
    for path in ROOT.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        reason = f"Longer than {MAX_LINES} lines" in (ast.get_docstring(ast.parse(text)) or "")
        if lines > MAX_LINES and not reason:
            too_long.append(f"{path.relative_to(ROOT.parent)} ({lines} lines)")
    assert too_long == []
