"""Check a built layer is fit for python3.13 on arm64, and within its size budget.

`make build` runs it on .aws-sam/build/SharedLayer after `sam build`: a layer
built with the wrong pip flags still deploys, and fails only when invoked.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_BUDGET_MB = 40.0  # unzipped; today ~36 MB. Lambda allows 250 MB for code and layers
_ELF_MAGIC = b"\x7fELF"
_EM_AARCH64 = 183  # e_machine of a 64-bit ARM ELF file
# CPython extension modules name their ABI: name.cpython-313-aarch64-linux-gnu.so
_BYTECODE_TAG = "cpython-313"
_EXTENSION_TAG = re.compile(r"\.cpython-(\d+)-([a-z0-9_]+)-linux-gnu\.so$")


@dataclass
class LayerReport:
    size_mb: float
    native_files: int
    compiled_modules: int = 0
    problems: list[str] = field(default_factory=list)


def elf_machine(path: Path) -> int | None:
    """The ELF e_machine field, or None for a file that is not ELF."""
    header = path.read_bytes()[:20]
    if not header.startswith(_ELF_MAGIC):
        return None
    little_endian = header[5] == 1
    return int.from_bytes(header[18:20], "little" if little_endian else "big")


def _check_bytecode(source: Path, relative: Path, problems: list[str]) -> int:
    """1 if the module has its python3.13 bytecode; Lambda cannot write it at run time."""
    compiled = source.parent / "__pycache__" / f"{source.stem}.{_BYTECODE_TAG}.pyc"
    if compiled.exists():
        return 1
    problems.append(
        f"{relative}: no {_BYTECODE_TAG} bytecode (compiled from source at each cold start)"
    )
    return 0


def check_layer(root: Path, budget_mb: float) -> LayerReport:
    files = [p for p in root.rglob("*") if p.is_file()]
    report = LayerReport(size_mb=sum(p.stat().st_size for p in files) / 1_000_000, native_files=0)
    for path in files:
        relative = path.relative_to(root)
        if path.suffix == ".py":
            report.compiled_modules += _check_bytecode(path, relative, report.problems)
        if path.suffix == ".pyc" and not path.name.endswith(_BYTECODE_TAG + ".pyc"):
            report.problems.append(f"{relative}: bytecode for another Python")
        machine = elf_machine(path) if ".so" in path.name else None
        if machine is None:
            continue
        report.native_files += 1
        if machine != _EM_AARCH64:
            report.problems.append(f"{relative}: not an aarch64 binary (e_machine {machine})")
        tag = _EXTENSION_TAG.search(path.name)
        if tag and (tag[1], tag[2]) != ("313", "aarch64"):
            report.problems.append(f"{relative}: built for cpython-{tag[1]} {tag[2]}")
    if report.native_files == 0:
        report.problems.append(
            "no native extension found: psycopg-binary and pydantic-core are missing"
        )
    if report.size_mb > budget_mb:
        report.problems.append(
            f"{report.size_mb:.1f} MB unzipped, over the {budget_mb:.0f} MB budget"
        )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("layer", type=Path, nargs="?", default=Path(".aws-sam/build/SharedLayer"))
    parser.add_argument("--budget-mb", type=float, default=DEFAULT_BUDGET_MB)
    args = parser.parse_args()
    report = check_layer(args.layer, args.budget_mb)
    print(
        f"layer {args.layer}: {report.size_mb:.1f} MB unzipped (budget {args.budget_mb:.0f} MB), "
        f"{report.native_files} native files, {report.compiled_modules} modules with 3.13 bytecode"
    )
    for problem in report.problems[:20]:
        print(f"  problem: {problem}", file=sys.stderr)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
