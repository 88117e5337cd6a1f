"""A webhook receiver for trying webhooks locally: verifies each delivery's signature
with the `standardwebhooks` library (as a real receiver would) and prints a line.

    .venv/bin/python -m local.webhook_receiver --secret whsec_... [--port 9000]

Subscribe it with make dev running (http://127.0.0.1 is allowed locally only):
PUT /shops/{shop_id}/webhooks/{webhook_id} {"url": "http://127.0.0.1:9000/hook", ...}
answers the secret to start this with (docs/events.md#webhooks).
"""

from __future__ import annotations

import argparse
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def serve(secret: str, port: int) -> None:
    verifier = Webhook(secret)

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                event = verifier.verify(body, dict(self.headers))
            except WebhookVerificationError as refused:
                self._answer(401)
                _say(f"refused: {refused} (webhook-id {self.headers.get('webhook-id')})")
                return
            self._answer(204)
            _say(
                f"verified  {event['type']}  {event['subject']}  sequence={event['sequence']}"
                f"  id={event['id']}"
            )

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    _say(f"receiving on http://127.0.0.1:{port}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _say(message: str) -> None:
    sys.stdout.write(f"{time.strftime('%H:%M:%S')} {message}\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--secret", required=True, help="the whsec_… the subscription's PUT answered"
    )
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args(argv)
    serve(args.secret, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
