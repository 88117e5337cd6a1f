"""The handlers' body validator answers as the pydantic models of appointments.api.schema do.

Same accepted values, same first refusal with the same message, outcome and
status, for any body: JSON of any shape, the fields right, wrong or missing,
and the bytes around them broken in the ways that separate JSON parsers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appointments.api import models, schema
from appointments.errors import ClientError

MODELS = ["BookingRequest", "SignedInBookingRequest", "UserUpdate"]
FIELDS = ["user_id", "date", "time", "name"]


def answer(module: Any, body: bytes, model: str) -> tuple[Any, ...]:
    try:
        parsed = module.parse_body(body, getattr(module, model))
    except ClientError as error:
        return ("refused", error.message, error.outcome, error.status)
    return ("accepted", *(getattr(parsed, field, None) for field in FIELDS))


def assert_same(body: bytes) -> None:
    for model in MODELS:
        assert answer(models, body, model) == answer(schema, body, model), (model, body)


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(["2031-05-05", "2031-02-30", "10:00", "9:00", "24:00", "user_alice", ""])
    | st.sampled_from(["\ud800", "user_\udfff", "\u2028", "\x7f"])  # lone surrogates: escaped
    | st.text(alphabet=st.characters(codec="utf-8"), min_size=120, max_size=210)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
OBJECTS = st.dictionaries(st.sampled_from([*FIELDS, "x", "User_id"]), VALUES, max_size=5)
# What separates JSON parsers: a BOM, bytes that are not UTF-8, lone surrogates,
# NaN, control characters, leading zeros, duplicate keys, stray punctuation.
BREAKS = st.sampled_from(
    [b"\xef\xbb\xbf", b"\xff", b"\xed\xa0\x80", b'"\\ud800"', b"NaN", b"-Infinity", b"\x00",
     b"\x0c", b"01", b"1.", b",", b"]", b"}", b" ", b"\n", b'"user_id":"dup",', b'"\\u0000"']
)  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(fields=OBJECTS, ensure_ascii=st.booleans())
def test_any_object_is_answered_alike(fields: dict[str, Any], ensure_ascii: bool) -> None:
    assert_same(json.dumps(fields, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass"))


@settings(max_examples=600, deadline=None)
@given(fields=OBJECTS, breaks=st.lists(st.tuples(st.integers(0, 10_000), BREAKS), max_size=3))
def test_broken_json_is_answered_alike(
    fields: dict[str, Any], breaks: list[tuple[int, bytes]]
) -> None:
    body = json.dumps(fields).encode()
    for at, inserted in breaks:
        cut = at % (len(body) + 1)
        body = body[:cut] + inserted + body[cut:]
    assert_same(body)


@settings(max_examples=200, deadline=None)
@given(
    depth=st.integers(195, 205),
    shape=st.lists(st.sampled_from(["[", "{", "[]", "{}"]), min_size=1, max_size=4),
    at_top=st.booleans(),
)
def test_deep_nesting_is_answered_alike(depth: int, shape: list[str], at_top: bool) -> None:
    opening = "".join(shape[i % len(shape)] for i in range(depth))
    nested, closing = "", []
    for token in opening:
        if token in ("[]", "{}"):
            nested += token
            break
        nested += '{"a":' if token == "{" else "["
        closing.append("}" if token == "{" else "]")
    nested += ("1" if not nested.endswith(("]", "}")) else "") + "".join(reversed(closing))
    valid = '{"user_id":"u","date":"2031-05-05","time":"10:00","name":"n","x":%s}'
    assert_same((nested if at_top else valid % nested).encode())


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[]", b"null", b'"x"', b"{}", b"\xef\xbb\xbf{}", b'{"user_id":"\xff"}',
     b'{"user_id":"' + b"a" * 129 + b'"}', b'{"name":"' + b"a" * 201 + b'"}', b" " * 4097],
)  # fmt: skip
def test_the_edges_are_answered_alike(body: bytes) -> None:
    assert_same(body)
