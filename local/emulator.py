"""An aarch64 CPython 3.13 to run the built functions on, and the tools to check them with.

The interpreter is Debian's (trixie has 3.13 for arm64), fetched with
`apt-get download` against an apt state of its own under .local/ (the
machine's apt sources are never touched), unpacked with `dpkg -x` into a
sysroot, its standard library compiled once so later runs import it from
bytecode. qemu-user-static and binutils (readelf) come from the machine's own
suite, installed with apt-get when missing (as root). qemu is called with the
sysroot explicitly (-L), so binfmt_misc is not needed.

Only Debian's archive is used: the one network this needs.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CACHE_DIR = Path(__file__).resolve().parent.parent / ".local" / "aarch64-python3.13"
SUITE = "trixie"
# The machine's own apt sources say where Debian's archive is; DEBIAN_MIRROR overrides.
_APT_SOURCES = (Path("/etc/apt/sources.list.d"), Path("/etc/apt/sources.list"))
_APT_URI = re.compile(r"(?:^URIs:\s*|^deb\s+(?:\[[^]]*\]\s+)?)(\S+)", re.M)
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
# The interpreter and the shared libraries it and its standard library load.
PACKAGES = (
    "python3.13-minimal",
    "libpython3.13-minimal",
    "libpython3.13-stdlib",
    "libc6",
    "libgcc-s1",
    "libexpat1",
    "zlib1g",
    "libssl3t64",
    "libffi8",
    "libsqlite3-0",
    "libbz2-1.0",
    "liblzma5",
    "libzstd1",
    "libuuid1",
)
# Host packages: the emulator, and readelf for the glibc versions.
HOST_TOOLS = {"qemu-aarch64-static": "qemu-user-static", "readelf": "binutils"}
# Not needed by a Lambda function, and slow to compile under emulation.
_SKIP_COMPILING = r"(test|idlelib|tkinter|turtledemo|lib2to3|ensurepip)/"


class SetupFailed(Exception):
    """The interpreter or the tools could not be had; the message says what to do."""


def debian_mirror() -> str:
    """The Debian archive this machine's apt uses (not its security archive)."""
    if mirror := os.environ.get("DEBIAN_MIRROR"):
        return mirror
    files = [p for folder in _APT_SOURCES if folder.is_dir() for p in sorted(folder.iterdir())]
    files += [p for p in _APT_SOURCES if p.is_file()]
    for path in files:
        # deb822 ("URIs: http://…/debian") and one-line ("deb http://…/debian suite main").
        for uri in _APT_URI.findall(path.read_text()):
            if uri.rstrip("/").endswith("/debian"):
                return str(uri).rstrip("/")
    raise SetupFailed("no Debian archive in the apt sources: set DEBIAN_MIRROR")


@dataclass(frozen=True)
class Python:
    sysroot: Path
    command: list[str]  # qemu, its options, the interpreter: append a script and arguments


@dataclass(frozen=True)
class Tools:
    python: Python
    readelf: str


def ensure(cache_dir: Path = CACHE_DIR) -> Tools:
    """The tools, installed or fetched if missing; cheap when they are there."""
    paths = _host_tools()
    sysroot = cache_dir / "sysroot"
    stamp = cache_dir / "complete"
    if not stamp.exists() or stamp.read_text() != _fingerprint():
        _build_sysroot(cache_dir, sysroot, paths["qemu-aarch64-static"])
        stamp.write_text(_fingerprint())
    return Tools(_python(sysroot, paths["qemu-aarch64-static"]), paths["readelf"])


def _fingerprint() -> str:
    return hashlib.sha256(f"{debian_mirror()} {SUITE} {' '.join(PACKAGES)}".encode()).hexdigest()


def _python(sysroot: Path, qemu: str) -> Python:
    interpreter = sysroot / "usr" / "bin" / "python3.13"
    return Python(sysroot, [qemu, "-L", str(sysroot), str(interpreter)])


def _host_tools() -> dict[str, str]:
    missing = [package for tool, package in HOST_TOOLS.items() if shutil.which(tool) is None]
    if missing:
        if os.geteuid() != 0:
            raise SetupFailed(f"install {' '.join(missing)} (apt-get install, as root)")
        print(f"installing {' '.join(missing)} with apt-get...", file=sys.stderr)
        _run(["apt-get", "update", "-qq"])
        _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing])
    found = {tool: shutil.which(tool) for tool in HOST_TOOLS}
    if None in found.values():
        raise SetupFailed(f"still missing after apt-get: {found}")
    return {tool: str(path) for tool, path in found.items()}


def _build_sysroot(cache_dir: Path, sysroot: Path, qemu: str) -> None:
    print(
        f"fetching Debian {SUITE}'s arm64 CPython 3.13 into {cache_dir} (once)...",
        file=sys.stderr,
    )
    if not KEYRING.exists():
        raise SetupFailed(f"no {KEYRING}: apt-get install debian-archive-keyring")
    apt_dir, debs = cache_dir / "apt", cache_dir / "debs"
    shutil.rmtree(cache_dir, ignore_errors=True)
    for folder in (
        apt_dir / "state" / "lists" / "partial",
        apt_dir / "cache" / "archives" / "partial",
        debs,
    ):
        folder.mkdir(parents=True)
    (apt_dir / "status").touch()
    sources = apt_dir / "sources.list"
    sources.write_text(f"deb [arch=arm64 signed-by={KEYRING}] {debian_mirror()} {SUITE} main\n")
    apt_options = [
        f"-oDir::Etc::SourceList={sources}",
        "-oDir::Etc::SourceParts=/nonexistent",
        f"-oDir::State={apt_dir / 'state'}",
        f"-oDir::State::status={apt_dir / 'status'}",
        f"-oDir::Cache={apt_dir / 'cache'}",
        "-oAPT::Architecture=arm64",
        "-oAPT::Architectures=arm64",
        "-oDebug::NoLocking=true",
        "-oAPT::Sandbox::User=root" if os.geteuid() == 0 else "-oAPT::Sandbox::User=",
        "-qq",
    ]
    _run(["apt-get", *apt_options, "update"])
    _run(["apt-get", *apt_options, "download", *PACKAGES], cwd=debs)
    unpacking = cache_dir / "sysroot.partial"
    for deb in sorted(debs.glob("*.deb")):
        _run(["dpkg", "-x", str(deb), str(unpacking)])
    # Debian's /lib is a link to usr/lib made by base-files, which is not unpacked.
    (unpacking / "lib").symlink_to("usr/lib")
    unpacking.rename(sysroot)
    # Debian compiles the standard library at install time (py3compile), which
    # dpkg -x skips: once here, or every run pays for it.
    python = _python(sysroot, qemu)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    stdlib = sysroot / "usr" / "lib" / "python3.13"
    # In several processes: compileall's own -j fails under qemu.
    parts = sorted(str(p) for p in stdlib.iterdir() if not re.search(_SKIP_COMPILING, f"{p.name}/"))
    workers = max(1, min(8, os.cpu_count() or 1))
    compiling = [
        subprocess.Popen(  # noqa: S603 (qemu and our interpreter)
            [*python.command, "-m", "compileall", "-q", "-x", _SKIP_COMPILING, *parts[i::workers]],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(workers)
    ]
    for process in compiling:
        _, errors = process.communicate()
        if process.returncode != 0:
            raise SetupFailed(f"compiling the aarch64 standard library failed: {errors[-2000:]}")
    shutil.rmtree(debs)


def _run(command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    completed = subprocess.run(  # noqa: S603 (apt-get, dpkg, fixed arguments)
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise SetupFailed(
            f"{' '.join(command[:3])}... failed ({completed.returncode}):"
            f" {(completed.stderr or completed.stdout).strip()[-2000:]}"
        )
