"""`make verify-build`'s EventBridge and webhook receiver: a loopback HTTP server
answering PutEvents and taking deliveries at /hook, and the AWS SDK the relay
imports, laid out as Lambda's runtime provides it.

Lambda's python3.13 runtime brings boto3 (in /var/runtime, after the layer on
sys.path); Debian's CPython does not, so the host's pure-Python copy is laid
out beside the layer. The relay's calls go to this server (boto3's
AWS_ENDPOINT_URL_EVENTBRIDGE), which takes every entry and keeps it for the
check.
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import util
from pathlib import Path
from typing import Any

# What boto3 needs, all pure Python: copied from the host's environment.
SDK_PACKAGES = ("boto3", "botocore", "jmespath", "s3transfer", "dateutil", "urllib3", "six")


def lay_out_sdk(runtime: Path) -> Path:
    """Copy the AWS SDK into `runtime` (Lambda's /var/runtime); the folder to put on sys.path."""
    runtime.mkdir(parents=True, exist_ok=True)
    for name in SDK_PACKAGES:
        spec = util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"{name} is not installed here: make install brings it (moto)")
        origin = Path(spec.origin)
        if origin.name == "__init__.py":
            shutil.copytree(origin.parent, runtime / name, ignore=shutil.ignore_patterns("*.pyc"))
        else:
            shutil.copy(origin, runtime / origin.name)
    return runtime


@dataclass
class Bus:
    """The entries PutEvents was sent, and the webhooks posted to /hook, in order."""

    url: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    # The subscription's signing secret, once its PUT has answered it.
    webhook_secret: str | None = None


@contextmanager
def event_bus() -> Iterator[Bus]:
    """A PutEvents endpoint on a loopback port, for as long as the block runs."""
    bus = Bus("")

    class PutEvents(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/hook":  # a webhook delivery: kept, and taken
                bus.webhooks.append((dict(self.headers), raw))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = json.loads(raw)
            entries = body.get("Entries", [])
            bus.entries.extend(entries)
            answer = json.dumps(
                {
                    "FailedEntryCount": 0,
                    "Entries": [{"EventId": str(uuid.uuid4())} for _ in entries],
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: Any) -> None:  # quiet: the check says what matters
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), PutEvents)
    bus.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield bus
    finally:
        server.shutdown()
        server.server_close()
