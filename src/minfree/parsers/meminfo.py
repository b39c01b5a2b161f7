"""Parse ``/proc/meminfo`` and per-node ``sys/devices/system/node/nodeN/meminfo``.

Lines are ``Name:   value [kB]`` (``fs/proc/meminfo.c``); per-node files prefix
``Node N``. Tolerated, because real files have them: no trailing newline, a missing
``MemAvailable`` (< 3.14), and the 2.4-style table (``total: used: free: ...`` then ``Mem:``
and ``Swap:`` rows in bytes) that gopsutil's issue 1002 host printed before the usual lines.

>>> parse_meminfo("Node 1 MemTotal:  2048 kB\\nNode 1 MemFree:  1024 kB").node
1
"""

from __future__ import annotations

import re

from minfree.errors import ParseError
from minfree.model.meminfo import MemInfo
from minfree.parsers._text import require_text, to_int

_LINE = re.compile(r"(?:Node\s+([0-9]+)\s+)?([A-Za-z0-9_()+\-]+):\s*(\S+)(?:\s+(kB))?", re.ASCII)
_LEGACY_HEADER = re.compile(r"total:\s+used:\s+free:.*", re.ASCII)
_LEGACY_ROW = re.compile(r"(Mem|Swap):(\s+[0-9]+){3,}", re.ASCII)


def parse_meminfo(text: str, source: str = "/proc/meminfo") -> MemInfo:
    """Parse meminfo text into :class:`MemInfo` (kB fields and unitless counts)."""
    require_text(text, source=source)
    fields_kb: dict[str, int] = {}
    counts: dict[str, int] = {}
    legacy: list[str] = []
    node: int | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if _LEGACY_HEADER.fullmatch(line) or _LEGACY_ROW.fullmatch(line):
            legacy.append(line)
            continue
        match = _LINE.fullmatch(line)
        if not match:
            raise ParseError(
                f"expected 'Name: value [kB]', got {line[:60]!r}", source=source, line=lineno
            )
        if match.group(1) is not None:
            line_node = int(match.group(1))
            if node is not None and line_node != node:
                raise ParseError(
                    f"lines for node {node} and node {line_node} in one file",
                    source=source,
                    line=lineno,
                )
            node = line_node
        name = match.group(2)
        value = to_int(match.group(3), source=source, line=lineno, what=name)
        if match.group(4):
            fields_kb[name] = value
        else:
            counts[name] = value
    if not fields_kb and not counts:
        raise ParseError("no meminfo fields found", source=source)
    return MemInfo(fields_kb=fields_kb, counts=counts, node=node, legacy_header=tuple(legacy))
