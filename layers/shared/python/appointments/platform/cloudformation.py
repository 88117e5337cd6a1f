"""Answering CloudFormation as a custom resource (the migrate-on-deploy hook).

Written by hand rather than with crhelper: one HTTPS PUT of a small JSON
document is all it takes, and crhelper's polling and timers would be unused.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from appointments.platform import redaction

# CloudFormation refuses a larger response body, and then fails the resource
# however well the work went.
MAX_BODY_BYTES = 4096
# Marks a reason cut to fit.
_CUT = "..."


def is_custom_resource_request(event: Any) -> bool:
    return isinstance(event, dict) and {"RequestType", "ResponseURL", "StackId"} <= event.keys()


def send_response(
    event: dict[str, Any],
    *,
    success: bool,
    reason: str,
    physical_id: str,
    data: dict[str, str] | None = None,
    timeout: float = 10,
) -> None:
    """PUT the outcome to the pre-signed ResponseURL CloudFormation is waiting on."""
    body = response_body(
        event, success=success, reason=reason, physical_id=physical_id, data=data or {}
    )
    url = event["ResponseURL"]
    if not url.startswith(("https://", "http://")):  # never file: or other schemes
        raise ValueError("ResponseURL is not an HTTP(S) URL")
    # The URL is pre-signed for an empty Content-Type.
    headers = {"Content-Type": "", "Content-Length": str(len(body))}
    request = urllib.request.Request(url, data=body, method="PUT", headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 (scheme checked above)
        pass


def response_body(
    event: dict[str, Any], *, success: bool, reason: str, physical_id: str, data: dict[str, str]
) -> bytes:
    """The answer as UTF-8 JSON of at most MAX_BODY_BYTES: the reason gives way to fit.

    The reason is scrubbed of passwords here, at the last step before it
    leaves the process for the stack's events.
    """
    document = {
        "Status": "SUCCESS" if success else "FAILED",
        "Reason": "",
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": data,
    }
    room = MAX_BODY_BYTES - len(_encode(document))
    if room < len(_CUT):
        # Only ids CloudFormation sent and our own short Data go in besides
        # the reason, so this is a bug of ours, not something to trim.
        raise ValueError("the response is too large even without a reason")
    document["Reason"] = _fit(redaction.scrub(reason), room)
    return _encode(document)


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def _fit(text: str, room: int) -> str:
    """`text`, cut at a character boundary so that it takes at most `room` bytes in the JSON."""
    # A lone surrogate (from bytes decoded with surrogateescape) has no UTF-8 form.
    text = text.encode("utf-8", "replace").decode()
    if _json_size(text) <= room:
        return text
    budget, used = room - len(_CUT), 0
    kept: list[str] = []
    for char in text:
        used += _json_size(char)
        if used > budget:
            break
        kept.append(char)
    return "".join(kept) + _CUT


def _json_size(text: str) -> int:
    """Bytes `text` takes inside a JSON string: quotes, backslashes, control characters grow."""
    return len(json.dumps(text, ensure_ascii=False).encode()) - 2
