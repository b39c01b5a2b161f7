"""Transparent hugepage settings: ``/sys/kernel/mm/transparent_hugepage/{enabled,defrag}``.

The kernel prints every choice and brackets the active one: ``always [madvise] never``.

>>> parse_thp_setting("always defer defer+madvise [madvise] never\\n").selected
'madvise'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from minfree.errors import ParseError
from minfree.parsers._text import require_text

_WORD = re.compile(r"\[?[A-Za-z0-9_+\-]+\]?", re.ASCII)


@dataclass(frozen=True)
class ThpSetting:
    """The active choice and all offered choices, in kernel order."""

    selected: str
    choices: tuple[str, ...]


def parse_thp_setting(text: str, source: str = "transparent_hugepage") -> ThpSetting:
    """Parse one THP sysfs file; exactly one bracketed choice is required."""
    require_text(text, source=source)
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise ParseError("expected one line of choices", source=source, line=len(lines) and 2)
    words = lines[0].split()
    choices: list[str] = []
    selected: list[str] = []
    for word in words:
        if not _WORD.fullmatch(word):
            raise ParseError(f"unexpected word {word[:30]!r}", source=source, line=1)
        bare = word.strip("[]")
        if not bare:
            raise ParseError("empty choice", source=source, line=1)
        if word.startswith("[") and word.endswith("]"):
            selected.append(bare)
        elif word.startswith("[") or word.endswith("]"):
            raise ParseError(f"unbalanced brackets in {word!r}", source=source, line=1)
        choices.append(bare)
    if len(selected) != 1:
        raise ParseError(
            f"expected one [selected] choice, found {len(selected)}", source=source, line=1
        )
    return ThpSetting(selected=selected[0], choices=tuple(choices))
