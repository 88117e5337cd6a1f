"""Answering CloudFormation as a custom resource (the migrate-on-deploy hook).

Written by hand rather than with crhelper: one HTTPS PUT of a small JSON
document is all it takes, and crhelper's polling and timers would be unused.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

# CloudFormation shows at most this much of a reason; longer ones are cut.
_MAX_REASON = 1000


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
    body = json.dumps(
        {
            "Status": "SUCCESS" if success else "FAILED",
            "Reason": reason[:_MAX_REASON],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": False,
            "Data": data or {},
        }
    ).encode()
    url = event["ResponseURL"]
    if not url.startswith(("https://", "http://")):  # never file: or other schemes
        raise ValueError("ResponseURL is not an HTTP(S) URL")
    # The URL is pre-signed for an empty Content-Type.
    headers = {"Content-Type": "", "Content-Length": str(len(body))}
    request = urllib.request.Request(url, data=body, method="PUT", headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 (scheme checked above)
        pass
