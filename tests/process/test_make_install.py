"""What the one-time installs and `make lint` print: progress, and no stray warning."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.process.local_server import REPO

SAM_PYTHON = REPO / ".venv-sam" / "bin" / "python"


def recipe(target: str, **variables: str) -> list[str]:
    """The commands `make` would run for `target` (a dry run: nothing is installed)."""
    assignments = [f"{name}={value}" for name, value in variables.items()]
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", *assignments, target],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.splitlines()


@pytest.mark.parametrize(
    ("target", "variables"),
    [
        ("{dir}/.installed", {"VENV": "{dir}"}),  # make install, and the first make of anything
        ("{dir}/bin/sam", {"SAM_VENV": "{dir}"}),  # the first make lint or make build
    ],
    ids=["dev-virtualenv", "aws-sam-cli"],
)
def test_a_first_install_says_what_it_installs_and_lets_pip_show_its_progress(
    tmp_path: str, target: str, variables: dict[str, str]
) -> None:
    folder = str(tmp_path)
    commands = recipe(
        target.format(dir=folder), **{k: v.format(dir=folder) for k, v in variables.items()}
    )
    installs = [i for i, command in enumerate(commands) if " install " in command]

    assert len(installs) == 1
    assert commands[0].startswith("echo ") and "one-time step" in commands[0]
    assert all(" -q" not in command for command in commands[installs[0] :])
    assert "--quiet" not in commands[installs[0]]


@pytest.mark.skipif(not SAM_PYTHON.exists(), reason="aws-sam-cli is not installed (make lint does)")
def test_the_auth_modes_check_of_make_lint_prints_its_one_line() -> None:
    result = subprocess.run(
        [str(SAM_PYTHON), "-m", "local.check_auth_modes"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stderr, result.stdout) == (
        0,
        "",
        "template.yaml translates with sign-in off and on; every route guarded as intended\n",
    )
