"""The layer's floors: an import in `appointments` points only down, never up.

    api -> domain -> data -> platform, and each of them -> the root's errors, messages

A module may import its own floor and any floor below. Imports inside functions
count too: a deferred import is still a dependency.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "shared" / "python" / "appointments"
FLOORS = ("api", "domain", "data", "platform")
ROOT_MODULES = ("errors", "messages")  # the vocabulary every floor shares
ROOT_LEVEL = len(FLOORS)


def level(module: str) -> int:
    """How far down `appointments.<...>` sits: 0 for api, ROOT_LEVEL for errors and messages."""
    parts = module.split(".")
    if len(parts) == 1:
        raise AssertionError("import a module of appointments, not the package itself")
    if parts[1] in FLOORS:
        return FLOORS.index(parts[1])
    if parts[1] in ROOT_MODULES:
        return ROOT_LEVEL
    raise AssertionError(f"{module} is on no floor: put it in one of {FLOORS}")


def imported(source: str, module: str) -> list[str]:
    """Every `appointments` module the source of `module` imports, relative imports included,
    at module level or in a function."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            relative = "." * node.level + (node.module or "")
            target = importlib.util.resolve_name(relative, module.rpartition(".")[0])
            if target in ("appointments", *(f"appointments.{floor}" for floor in FLOORS)):
                names += [f"{target}.{alias.name}" for alias in node.names]
            else:
                names.append(target)
    return [name for name in names if name.split(".")[0] == "appointments"]


def upward_imports(module: str, source: str) -> list[str]:
    """The imports of `module` that point up a floor."""
    own = level(module)
    return [
        f"{module} imports {target}" for target in imported(source, module) if level(target) < own
    ]


def layer_modules() -> list[tuple[str, Path]]:
    return [
        (".".join(("appointments", *path.relative_to(PACKAGE).with_suffix("").parts)), path)
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "__init__.py"
    ]


@pytest.mark.parametrize("module, path", layer_modules(), ids=lambda value: str(value))
def test_imports_point_down_a_floor(module: str, path: Path) -> None:
    assert upward_imports(module, path.read_text()) == []


def test_every_module_is_on_a_floor_or_shared_at_the_root() -> None:
    for module, _ in layer_modules():
        level(module)  # raises for a module outside the floors


def test_the_floors_packages_import_nothing() -> None:
    """Importing appointments.data.store must not import the rest of the data floor."""
    for init in [PACKAGE / "__init__.py", *(PACKAGE / floor / "__init__.py" for floor in FLOORS)]:
        tree = ast.parse(init.read_text())
        assert [type(node).__name__ for node in tree.body] == ["Expr"], init  # the docstring


def test_the_root_vocabulary_imports_no_floor() -> None:
    for name in ROOT_MODULES:
        assert imported((PACKAGE / f"{name}.py").read_text(), f"appointments.{name}") == []


@pytest.mark.parametrize(
    "module, source",
    [
        ("appointments.domain.shop", "from appointments.api import web\n"),
        ("appointments.data.store", "def f():\n    from appointments.domain.shop import now\n"),
        ("appointments.platform.redaction", "import appointments.data.database\n"),
        ("appointments.errors", "from appointments.platform import settings\n"),
        ("appointments.domain.shop", "from ..api import web\n"),
        ("appointments.data.store", "from ..domain.shop import now\n"),
    ],
)
def test_the_check_sees_an_upward_import(module: str, source: str) -> None:
    assert upward_imports(module, source) != []


def test_a_module_outside_the_floors_is_refused() -> None:
    with pytest.raises(AssertionError, match="on no floor"):
        level("appointments.helpers")
