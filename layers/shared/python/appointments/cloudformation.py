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
    # The URL is pre-signed for an empty Content-Type.
    request = urllib.request.Request(
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 (an https URL from CloudFormation)
        pass
