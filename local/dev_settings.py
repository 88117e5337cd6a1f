"""What `make dev` and `make token` both read from the shell: the port, and how a bad value is told.

Below the dev server and the development issuer alike: a token names the issuer
of the server on this port, so both must read PORT by the same rule.
"""

from __future__ import annotations

import argparse
import os

DEFAULT_PORT = 3000


class StartupError(Exception):
    """Something the developer must fix before the server (or a command) can start."""


def port_number(text: str) -> int:
    """`text` as a TCP port to listen on (argparse type)."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1 to 65535)")
    return port


def port_from_environment() -> int:
    value = os.environ.get("PORT", "")
    if not value:
        return DEFAULT_PORT
    try:
        return port_number(value)
    except argparse.ArgumentTypeError:
        raise StartupError(f"PORT={value!r} is not a port number (1 to 65535)") from None
