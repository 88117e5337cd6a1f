"""`make verify-build` fails, naming the function and why, on an artifact broken on purpose.

Each test copies `sam build`'s output, breaks one thing in the copy, and
verifies it under emulation. They run as `make verify-build`'s self-test
(VERIFY_BUILD_SELFTEST=1), not in `make test`: they need the build and the
aarch64 interpreter that target fetches, and each runs emulated processes
that take many seconds.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg  # noqa: F401  (psycopg_binary refuses to load before it)
import psycopg_binary._psycopg
import pytest

from local import verify_build

BUILD_DIR = verify_build.DEFAULT_BUILD_DIR

pytestmark = pytest.mark.skipif(
    not os.environ.get("VERIFY_BUILD_SELFTEST") or not (BUILD_DIR / "template.yaml").exists(),
    reason="make verify-build runs these (they need make build and the aarch64 interpreter)",
)


@pytest.fixture
def build_copy(tmp_path: Path) -> Path:
    """A copy of .aws-sam/build to break, its mtimes kept: .pyc files are checked against them."""
    copy = tmp_path / "build"
    shutil.copytree(BUILD_DIR, copy, symlinks=True)
    return copy


def verify_fails(build_dir: Path, functions: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    only = [argument for name in functions for argument in ("--only", name)]
    status = verify_build.main(["--build-dir", str(build_dir), *only])
    report = capsys.readouterr().err
    assert status == 1, report
    assert report.startswith("verify-build FAILED\n")
    return report


def test_x86_64_extension_in_the_layer_fails_the_functions_that_import_it(
    build_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (aarch64,) = (build_copy / "SharedLayer" / "python" / "psycopg_binary").glob("_psycopg.*.so")
    shutil.copyfile(psycopg_binary._psycopg.__file__, aarch64)  # this machine's x86_64 build

    report = verify_fails(build_copy, ["MigrateFunction", "BookingsFunction"], capsys)

    relative = aarch64.relative_to(build_copy / "SharedLayer")
    assert f"  - {relative}: not an aarch64 binary (ELF machine 62)" in report
    assert (
        "BookingsFunction: cannot import its handler 'app.handler' on aarch64 Python 3.13" in report
    )
    assert "ImportError" in report


def test_layer_without_bytecode_fails_as_compiled_from_source(
    build_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for cache in list((build_copy / "SharedLayer").rglob("__pycache__")):
        shutil.rmtree(cache)

    report = verify_fails(build_copy, ["HealthFunction"], capsys)

    assert "HealthFunction:\n" in report
    assert "layer modules were compiled from source, not loaded from their Python 3.13" in report
    assert "appointments/__init__.py" in report


def test_function_needing_a_newer_python_fails_on_import(
    build_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = build_copy / "HealthFunction" / "app.py"
    app.write_text("import annotationlib  # new in Python 3.14\n" + app.read_text())

    report = verify_fails(build_copy, ["HealthFunction"], capsys)

    assert (
        "HealthFunction: cannot import its handler 'app.handler' on aarch64 Python 3.13" in report
    )
    assert "ModuleNotFoundError: No module named 'annotationlib'" in report
    assert "MigrateFunction" not in report


def test_native_file_needing_a_newer_glibc_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = BUILD_DIR / "SharedLayer"
    readelf = shutil.which("readelf")
    assert readelf is not None
    _, problems = verify_build.native_problems(layer, readelf)
    assert problems == []
    (extension,) = (layer / "python" / "pydantic_core").glob("*.so")
    newest = verify_build.newest_glibc(extension, readelf)
    assert newest is not None
    assert (2, 17) <= newest <= (2, 34)  # aarch64's first glibc .. Amazon Linux 2023's

    monkeypatch.setattr(verify_build, "MAX_GLIBC", (2, 16))  # as if Lambda's were older
    _, problems = verify_build.native_problems(layer, readelf)

    assert f"python/pydantic_core/{extension.name}: needs GLIBC_2." in "\n".join(problems)
    assert all(", newer than Lambda's 2.16" in problem for problem in problems)
