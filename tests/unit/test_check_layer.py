"""The built-layer check: right architecture, right Python, no bytecode, within budget."""

from pathlib import Path

from local.check_layer import check_layer


def elf(machine: int) -> bytes:
    """The first bytes of a 64-bit little-endian ELF file for `machine`."""
    return b"\x7fELF\x02\x01\x01" + b"\x00" * 11 + machine.to_bytes(2, "little") + b"\x00" * 40


def make_layer(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = root / "python" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def test_an_arm64_cp313_layer_passes(tmp_path: Path) -> None:
    layer = make_layer(
        tmp_path,
        {
            "psycopg_binary/pq.cpython-313-aarch64-linux-gnu.so": elf(183),
            "psycopg_binary.libs/libpq-1a2b.so.5.18": elf(183),
            "appointments/schedule.py": b"x = 1\n",
            "appointments/__pycache__/schedule.cpython-313.pyc": b"\xf3\r\r\n",
        },
    )
    report = check_layer(layer, budget_mb=1)
    assert report.problems == []
    assert (report.native_files, report.compiled_modules) == (2, 1)


def test_x86_binaries_and_another_pythons_binaries_or_bytecode_are_reported(tmp_path: Path) -> None:
    layer = make_layer(
        tmp_path,
        {
            "psycopg_binary/pq.cpython-313-x86_64-linux-gnu.so": elf(62),
            "pydantic_core/core.cpython-311-aarch64-linux-gnu.so": elf(183),
            "appointments/__pycache__/schedule.cpython-311.pyc": b"\x00",
        },
    )
    problems = check_layer(layer, budget_mb=1).problems
    assert any("not an aarch64 binary" in p for p in problems)
    assert any("cpython-313 x86_64" in p for p in problems)
    assert any("cpython-311 aarch64" in p for p in problems)
    assert any("bytecode for another Python" in p for p in problems)


def test_a_module_without_313_bytecode_is_reported(tmp_path: Path) -> None:
    layer = make_layer(
        tmp_path,
        {"psycopg_binary/pq.cpython-313-aarch64-linux-gnu.so": elf(183), "slow.py": b"x = 1\n"},
    )
    problems = check_layer(layer, budget_mb=1).problems
    assert problems == [
        "python/slow.py: no cpython-313 bytecode (compiled from source at each cold start)"
    ]


def test_a_layer_over_budget_or_without_native_code_fails(tmp_path: Path) -> None:
    layer = make_layer(tmp_path, {"big.bin": b"\x00" * 2_000_000})
    problems = check_layer(layer, budget_mb=1).problems
    assert any("over the 1 MB budget" in p for p in problems)
    assert any("no native extension" in p for p in problems)
