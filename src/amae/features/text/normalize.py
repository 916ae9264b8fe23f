"""Turn whatever sits in a ``text`` cell into a clean, bounded ``str``.

Posts come from scrapers and exports: None, NaN, bytes in unknown encodings, strings carrying
surrogate escapes, megabyte-long spam. None of that may stop a run, so every cell becomes a
valid UTF-8 string plus flags that say what was repaired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class CleanText:
    """A normalised post and what happened to it."""

    text: str
    empty: bool
    truncated: bool
    invalid_utf8: bool


def _repair_surrogates(text: str) -> str:
    """Replace lone surrogates (e.g. from ``errors='surrogateescape'``) by U+FFFD."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace")


def clean_text(value: object, max_chars: int) -> CleanText:
    """Normalise one cell: decode bytes, repair invalid code points, truncate to ``max_chars``.

    Truncation happens before any other work so a 1 MB post costs no more than a long one.
    """
    invalid = False
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return CleanText("", True, False, False)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        # decoding at most 4 bytes per kept character is enough to fill max_chars
        head = raw[: 4 * max_chars + 4]
        text = head.decode("utf-8", "replace")
        truncated = len(text) > max_chars or len(raw) > len(head)
        # a genuine U+FFFD in the input is not a decoding error
        invalid = "\ufffd" in text[:max_chars] and b"\xef\xbf\xbd" not in head
    else:
        text = value if isinstance(value, str) else str(value)
        truncated = len(text) > max_chars
    if len(text) > max_chars:
        text = text[:max_chars]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _repair_surrogates(text)
        invalid = True
    text = text.replace("\x00", " ")
    return CleanText(text, not text.strip(), truncated, invalid)
