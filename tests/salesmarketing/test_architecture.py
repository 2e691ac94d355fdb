"""No import cycle between the app's modules (the layers themselves are import-linter's contracts in
pyproject.toml, run by scripts/test). grimp reads every import, those inside functions too, so a cycle hidden in a
function-level import counts. The last known cycles went on 2026-12-03: none may appear again."""

from __future__ import annotations

import grimp
import pytest

ROOT_PACKAGES = ("salesmarketing", "leads", "campaigns", "pipeline", "nurture", "kpis")


def import_graph() -> grimp.ImportGraph:
    return grimp.build_graph(*ROOT_PACKAGES, cache_dir=None)


def import_cycles(graph: grimp.ImportGraph) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan), i.e. the modules on import loops."""
    imports = {module: sorted(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[frozenset[str]] = []

    def visit(module: str) -> None:
        index[module] = lowlink[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in imports[module]:
            if imported not in index:
                visit(imported)
                lowlink[module] = min(lowlink[module], lowlink[imported])
            elif imported in on_stack:
                lowlink[module] = min(lowlink[module], index[imported])
        if lowlink[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(frozenset(component))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return cycles


def cycle_list(graph: grimp.ImportGraph) -> list[list[str]]:
    return [sorted(cycle) for cycle in import_cycles(graph)]


@pytest.fixture(scope="module")
def graph():
    return import_graph()  # grimp finds the packages on sys.path, where pytest-django put the project root


def test_no_import_cycle_between_modules(graph):
    assert cycle_list(graph) == [], "an import cycle (break it with a hook, or import downward only)"


def test_the_check_sees_a_new_cycle():
    graph = import_graph()
    graph.add_import(importer="leads.selectors", imported="kpis.selectors")
    graph.add_import(importer="kpis.selectors", imported="leads.selectors")
    assert any({"kpis.selectors", "leads.selectors"} <= set(cycle) for cycle in cycle_list(graph))
