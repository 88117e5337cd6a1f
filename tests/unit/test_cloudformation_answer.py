"""The custom resource's answer always fits CloudFormation's 4,096-byte limit."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from appointments.platform import cloudformation, redaction
from tests.conftest import EXAMPLES_RUN

EVENT = {
    "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/appointments-prod/"
    "0f6a4b90-1f2e-11ef-9c3a-0a1b2c3d4e5f",
    "RequestId": "5f2c9a4e-7b1d-4c3e-9f8a-1b2c3d4e5f6a",
    "LogicalResourceId": "MigrationsOnDeploy",
}
LONGEST_DATA = {"AppliedCount": "9999", "LastApplied": "9" * 251 + ".sql"}


def body(reason: str, data: dict[str, str] | None = None) -> bytes:
    return cloudformation.response_body(
        EVENT, success=False, reason=reason, physical_id="database-migrations", data=data or {}
    )


@settings(max_examples=300, deadline=None)
@given(reason=st.text(max_size=6000), data=st.sampled_from([{}, LONGEST_DATA]))
def test_any_reason_fits_as_valid_utf8_json_and_keeps_its_beginning(
    reason: str, data: dict[str, str]
) -> None:
    raw = body(reason, data)
    answer = json.loads(raw.decode("utf-8"))  # strict: a character cut in two would raise

    assert len(raw) <= cloudformation.MAX_BODY_BYTES
    assert answer["Data"] == data
    sent = answer["Reason"]
    whole = reason.encode("utf-8", "replace").decode()
    assert sent == whole or (sent.endswith("...") and whole.startswith(sent[:-3]))
    key = "CloudFormation answers"
    EXAMPLES_RUN[key] = EXAMPLES_RUN.get(key, 0) + 1


def test_a_reason_that_fits_is_sent_whole() -> None:
    assert json.loads(body("applied 3 files, the last 0003_x.sql"))["Reason"] == (
        "applied 3 files, the last 0003_x.sql"
    )


def test_escapes_count_against_the_budget() -> None:
    raw = body('"\\\n' * 3000)  # each character takes two bytes once escaped
    assert 4090 <= len(raw) <= cloudformation.MAX_BODY_BYTES
    assert json.loads(raw)["Reason"].endswith("...")


def test_a_registered_password_never_reaches_the_body() -> None:
    redaction.register("s3cret-Passw0rd")
    try:
        raw = body('connection to "db" failed: password s3cret-Passw0rd; host s3cret-Pa')
    finally:
        redaction.forget_all()
    assert b"s3cret" not in raw
    assert b"Passw0rd" not in raw


def test_a_lone_surrogate_from_undecodable_bytes_is_replaced_not_fatal() -> None:
    reason = b"bad byte \xff here".decode("utf-8", "surrogateescape")
    assert json.loads(body(reason))["Reason"] == "bad byte ? here"
