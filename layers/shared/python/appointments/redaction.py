"""Keeping database passwords, and any piece of them, out of what we log or return.

libpq, botocore and psycopg put whatever they could not parse into their error
texts: a password split at the wrong `@` turns up as a "host name", half a
percent-encoded password as a bad token. Rather than guess every shape they
use, every password this container reads is registered here, and every error
text that leaves the process (log records, CloudFormation answers, the local
tools' messages) goes through `scrub`, which masks any run of four or more
characters that also occurs in a registered password.
"""

from __future__ import annotations

from urllib.parse import quote

MASK = "***"
# Shorter runs are too common in ordinary text ("for ", "host") to mask safely;
# a password shorter than this is masked where it occurs whole.
MIN_FRAGMENT = 4

# Module level: the passwords this container has read, for its whole life.
_secrets: set[str] = set()


def register(password: str) -> None:
    """Remember a password (as read, and as a URL would encode it) so scrub masks it."""
    for form in (password, quote(password, safe="")):
        if form:
            _secrets.add(form)


def scrub(text: str) -> str:
    """`text` with every registered password, and every fragment of one, masked."""
    for secret in sorted(_secrets, key=len, reverse=True):
        text = _mask_fragments(text, secret)
    return text


def _mask_fragments(text: str, secret: str) -> str:
    if len(secret) < MIN_FRAGMENT:
        return text.replace(secret, MASK)
    pieces: list[str] = []
    position = 0
    while position < len(text):
        length = _longest_fragment_at(text, position, secret)
        if length:
            pieces.append(MASK)
            position += length
        else:
            pieces.append(text[position])
            position += 1
    return "".join(pieces)


def _longest_fragment_at(text: str, position: int, secret: str) -> int:
    """The length of the longest piece of `secret` that starts text at `position`, or 0."""
    if text[position : position + MIN_FRAGMENT] not in secret:
        return 0
    longest = MIN_FRAGMENT
    while position + longest < len(text) and text[position : position + longest + 1] in secret:
        longest += 1
    return longest


def forget_all() -> None:
    """Forget every registered password (tests)."""
    _secrets.clear()
