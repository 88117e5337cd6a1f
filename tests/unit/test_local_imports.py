"""local/'s modules import downward only: no circle, and the server that assembles them on top.

Read from the source with ast, imports inside functions included: a late import
is still a dependency, and was how the development issuer reached up into the
server.
"""

from __future__ import annotations

import ast
from pathlib import Path

LOCAL = Path(__file__).resolve().parents[2] / "local"
# The modules `make dev` assembles: none of them may need the server.
BELOW_THE_SERVER = ("gateway", "authorizers", "dev_issuer", "http_api_event", "api_docs")


def local_imports(module: Path) -> set[str]:
    """The local/ modules `module` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(module.read_text(), str(module))):
        if isinstance(node, ast.ImportFrom) and node.module == "local":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("local."):
            found.add((node.module or "").split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(
                alias.name.split(".")[1] for alias in node.names if alias.name.startswith("local.")
            )
    return found


def import_graph() -> dict[str, set[str]]:
    return {path.stem: local_imports(path) for path in LOCAL.glob("*.py")}


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph`, as the modules along it, or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, ())):
            if found := visit(imported, [*path, module]):
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        if found := visit(module, []):
            return found
    return None


def reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        for imported in graph.get(stack.pop(), ()):
            if imported not in seen:
                seen.add(imported)
                stack.append(imported)
    return seen


def test_the_import_graph_is_read_from_every_kind_of_import() -> None:
    graph = import_graph()
    assert {"authorizers", "embedded_db", "gateway"} <= graph["dev_server"]
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_local_has_no_import_cycle() -> None:
    assert cycle_in(import_graph()) is None


def test_the_gateway_its_authorizers_and_the_issuer_sit_below_the_server() -> None:
    graph = import_graph()
    assert {module: "dev_server" in reaches(graph, module) for module in BELOW_THE_SERVER} == (
        dict.fromkeys(BELOW_THE_SERVER, False)
    )
