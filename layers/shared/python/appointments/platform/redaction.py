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

import re
from collections.abc import Iterator
from urllib.parse import quote

MASK = "***"
# Shorter runs are too common in ordinary text ("for ", "host") to mask safely;
# a password shorter than this is masked where it stands alone, not inside a word.
MIN_FRAGMENT = 4

# Module level: the passwords this container has read, for its whole life,
# and a pattern that finds the shortest maskable piece of any of them, so that
# the text of every log line is checked in one regular-expression search.
_secrets: set[str] = set()
_any_piece: re.Pattern[str] | None = None


def register(password: str) -> None:
    """Remember a password (as read, and as a URL would encode it) so scrub masks it."""
    global _any_piece
    forms = {form for form in (password, quote(password, safe="")) if form}
    if forms <= _secrets:
        return  # every reconnect registers the same password: nothing to recompile
    _secrets.update(forms)
    pieces = {piece for secret in _secrets for piece in _shortest_pieces(secret)}
    _any_piece = re.compile("|".join(sorted(pieces))) if pieces else None


def scrub(text: str) -> str:
    """`text` with every registered password, and every fragment of one, masked."""
    if _any_piece is None or not _any_piece.search(text):
        return text
    # Every secret marks what it covers in the original text, and then each run
    # of marked characters becomes one mask: masking one secret after another
    # could leave the tail of a second, overlapping one in view.
    covered = [False] * len(text)
    for secret in _secrets:
        for start, end in _fragments(text, secret):
            covered[start:end] = [True] * (end - start)
    pieces = []
    for position, character in enumerate(text):
        if not covered[position]:
            pieces.append(character)
        elif position == 0 or not covered[position - 1]:
            pieces.append(MASK)
    return "".join(pieces)


def _shortest_pieces(secret: str) -> set[str]:
    """Regular expressions, one of which matches wherever scrub has something to mask."""
    if len(secret) < MIN_FRAGMENT:
        return {_standing_alone(secret)}
    pieces = {secret[i : i + MIN_FRAGMENT] for i in range(len(secret) - MIN_FRAGMENT + 1)}
    return {re.escape(piece) for piece in pieces}


def _standing_alone(secret: str) -> str:
    return rf"(?<!\w){re.escape(secret)}(?!\w)"


def _fragments(text: str, secret: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each stretch of `text` that is a piece of `secret`."""
    if len(secret) < MIN_FRAGMENT:
        for found in re.finditer(_standing_alone(secret), text):
            yield found.span()
        return
    for position in range(len(text)):
        length = _longest_fragment_at(text, position, secret)
        if length:
            yield position, position + length


def _longest_fragment_at(text: str, position: int, secret: str) -> int:
    """The length of the longest piece of `secret` that starts text at `position`, or 0."""
    if (
        position + MIN_FRAGMENT > len(text)
        or text[position : position + MIN_FRAGMENT] not in secret
    ):
        return 0
    longest = MIN_FRAGMENT
    while position + longest < len(text) and text[position : position + longest + 1] in secret:
        longest += 1
    return longest


def forget_all() -> None:
    """Forget every registered password (tests)."""
    global _any_piece
    _secrets.clear()
    _any_piece = None
