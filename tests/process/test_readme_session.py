"""The README's Quick start, run as written against `make dev`'s server.

Each curl command of the Quick start's shell blocks runs in bash with the real
curl, against a dev server on a free loopback port, and its answer must be
the `# {...}` shown under it: so an example that drifts from what the server
answers fails here. In the README's answers, `…` stands for what varies (an
id, a list), `…prose…` for what it describes, and a UTC moment such as
`"2026-11-26T12:00:00Z"` (`created_at`, `cancelled_at`) for the request's own.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.process.local_server import REPO, LocalServer, start_local_server

README = REPO / "README.md"
README_BASE_URL = "http://localhost:3000"
SESSION_TIMEOUT = 90  # seconds, for the whole session; each curl has 20
STEP_MARKER = "@@readme-step@@"

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="the session needs curl")


@dataclass(frozen=True)
class Step:
    """Shell lines whose output the README shows in the comment lines after them."""

    commands: str
    expected: tuple[str, ...]  # the JSON-like answers in those comments, any order


@dataclass(frozen=True)
class Answered:
    step: Step
    output: tuple[str, ...]


def quick_start_blocks(readme: str) -> list[str]:
    """The ```bash blocks of the Quick start section that call curl."""
    section = readme.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```bash\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    return [block for block in blocks if "curl " in block]


def readme_steps() -> list[Step]:
    return [step for block in quick_start_blocks(README.read_text()) for step in steps_of(block)]


def steps_of(block: str) -> list[Step]:
    """Commands grouped up to the comments that show their answers.

    A comment before any command (the race's "run these two at the same
    moment") only explains, and the commands of one group share its answers
    (the race's two curls: "one {…}, the other {…}").
    """
    steps: list[Step] = []
    commands: list[str] = []
    comments: list[str] = []
    for line in block.replace("\\\n", " ").splitlines():
        if line.startswith("#"):
            if commands:
                comments.append(line)
        elif line.strip():
            if comments:
                steps.append(Step("\n".join(commands), answers_in(comments)))
                commands, comments = [], []
            commands.append(line)
    if commands:
        steps.append(Step("\n".join(commands), answers_in(comments)))
    return steps


def answers_in(comments: list[str]) -> tuple[str, ...]:
    """Every balanced `{...}` in the comments: the answers they show."""
    found = []
    for comment in comments:
        depth, start = 0, 0
        for index, char in enumerate(comment):
            if char == "{":
                if depth == 0:
                    start = index
                depth += 1
            elif char == "}" and depth:
                depth -= 1
                if depth == 0:
                    found.append(comment[start : index + 1])
    return tuple(found)


# What the README's answers leave open: a UTC moment, `…prose…`, `…` ending a
# string (`"booking_…"`: the rest of it), any other `…` (anything).
_OPEN = re.compile(
    r'(?P<moment>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)|(?P<word>(?<=\w)…)|…[^"{}\[\]…]*…|…'
)


def pattern_of(shown: str) -> re.Pattern[str]:
    parts, position = [], 0
    for match in _OPEN.finditer(shown):
        parts.append(re.escape(shown[position : match.start()]))
        if match["moment"]:
            parts.append(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
        elif match["word"]:
            parts.append(r'[^"]+')
        else:
            parts.append(".*?")
        position = match.end()
    parts.append(re.escape(shown[position:]))
    return re.compile("".join(parts), re.DOTALL)


def shell_script(steps: list[Step], base_url: str) -> str:
    """The session for bash: curl answers on a line of their own, a marker after each step."""
    lines = [
        "set -u",
        # One write per answer, so the race's two answers never interleave.
        "curl() { local out rc; out=$(command curl --silent --show-error --max-time 20 "
        '"$@"); rc=$?; printf \'%s\\n\' "$out"; return $rc; }',
    ]
    for step in steps:
        lines += [step.commands.replace(README_BASE_URL, base_url), "wait", f"echo {STEP_MARKER}"]
    return "\n".join(lines) + "\n"


def run_session(server: LocalServer, steps: list[Step]) -> list[Answered]:
    script = shell_script(steps, server.base_url)
    urls = set(re.findall(r"https?://[^/\s\"']+", script))
    assert urls == {server.base_url}, f"the Quick start must only call {README_BASE_URL}"
    # Loopback only: no proxy between curl and the local server.
    environment = {name: value for name, value in os.environ.items() if "proxy" not in name.lower()}
    finished = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=SESSION_TIMEOUT,
        env=environment,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    outputs = finished.stdout.split(STEP_MARKER + "\n")
    assert outputs[-1] == "", finished.stdout
    return [
        Answered(step, tuple(line for line in output.splitlines() if line))
        for step, output in zip(steps, outputs[:-1], strict=True)
    ]


@pytest.fixture(scope="module")
def session(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalServer, list[Answered]]]:
    """The Quick start, run once on a fresh server with the seed users."""
    steps = readme_steps()
    folder = tmp_path_factory.mktemp("readme")
    server = start_local_server(folder / "server.log", "--data-dir", str(folder / "pgdata"))
    try:
        yield server, run_session(server, steps)
    finally:
        server.interrupt()


def test_the_readme_shows_a_session_with_answers() -> None:
    steps = readme_steps()
    shown = [answer for step in steps for answer in step.expected]
    assert len(steps) >= 4
    assert '{"status":"ok"}' in shown


def test_every_answer_is_the_one_the_readme_shows(
    session: tuple[LocalServer, list[Answered]],
) -> None:
    _, answered = session
    for result in answered:
        assert unmatched(result) == [], (
            f"README step:\n{result.step.commands}\nshows {list(result.step.expected)}"
            f"\nbut the server answered {list(result.output)}"
        )


def unmatched(result: Answered) -> list[str]:
    """The answers no shown one matches, or the shown ones left over; each used once."""
    left = [pattern_of(shown) for shown in result.step.expected]
    stray = []
    for line in result.output:
        match = next((pattern for pattern in left if pattern.fullmatch(line)), None)
        if match is None:
            stray.append(line)
        else:
            left.remove(match)
    return stray + [pattern.pattern for pattern in left]


def test_the_keyed_post_again_is_replayed_and_another_body_is_refused(
    session: tuple[LocalServer, list[Answered]],
) -> None:
    # The README says it in words under the cancel: the same key and body get
    # the first answer again, with Idempotent-Replayed: true; another body 422.
    server, answered = session
    # The keyed POST's step ends with the lookup of the booking it made.
    keyed = next(result for result in answered if "Idempotency-Key" in result.step.commands)
    booking_id = json.loads(keyed.output[0])["booking_id"]
    headers, body = curl_request(keyed.step.commands)
    other_body = json.dumps({**json.loads(body), "time": "10:00"})

    again = server.request("POST", "/bookings", body.encode(), headers)
    other = server.request("POST", "/bookings", other_body.encode(), headers)

    assert (again.status, again.json) == (200, {"booking_id": booking_id})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (other.status, other.json) == (
        422,
        {"error": "Idempotency-Key reused with a different request"},
    )
    assert server.request("GET", f"/bookings/{booking_id}").json["status"] == "cancelled"


def curl_request(commands: str) -> tuple[dict[str, str], str]:
    """The headers and body of the first `curl ... -X POST` in the commands."""
    words = shlex.split(commands.split("$(", 1)[1].split("|", 1)[0])
    headers: dict[str, str] = {}
    body = ""
    for flag, value in itertools.pairwise(words):
        if flag == "-H":
            name, _, header_value = value.partition(":")
            headers[name.strip()] = header_value.strip()
        elif flag == "-d":
            body = value
    assert "Idempotency-Key" in headers and body, commands
    return headers, body
