"""Small helpers shared by the text parsers.

Why not ``int()`` directly: Python's ``int`` accepts Unicode digits (``"٣"``), underscores
(``"1_0"``) and surrounding whitespace, none of which the kernel ever prints. A strict
ASCII reader makes garbage input fail loudly (as :class:`~minfree.errors.ParseError`) instead
of being silently accepted as a number.
"""

from __future__ import annotations

import re

from minfree.errors import ParseError

_INT = re.compile(r"-?[0-9]+", re.ASCII)


def is_int(token: str) -> bool:
    """True when ``token`` is a plain ASCII decimal integer (optionally negative)."""
    return _INT.fullmatch(token) is not None


def to_int(token: str, *, source: str, line: int, what: str = "value") -> int:
    """Parse a plain ASCII decimal integer or raise ParseError naming file and line."""
    if _INT.fullmatch(token) is None:
        raise ParseError(
            f"{what}: expected an integer, got {token[:40]!r}", source=source, line=line
        )
    return int(token)


def require_text(text: str, *, source: str) -> None:
    """Reject input that is not a ``str`` or holds nothing but whitespace.

    An empty /proc file means a failed or truncated capture, never a real kernel answer.
    """
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}", source=source)
    if not text.strip():
        raise ParseError("file is empty", source=source)
