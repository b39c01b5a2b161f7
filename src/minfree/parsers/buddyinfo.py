"""Parse ``/proc/buddyinfo``: ``Node %d, zone %8s`` then one ``%6lu`` per order.

Counts are free *blocks* of each order, not pages (mm/vmstat.c ``frag_show_print``).
Trailing spaces are normal (node_exporter's fixture keeps them).

>>> parse_buddyinfo("Node 0, zone      DMA      1      0      1\\n").zones[0].free_blocks
(1, 0, 1)
"""

from __future__ import annotations

import re

from minfree.errors import ParseError
from minfree.model.buddyinfo import BuddyInfo, BuddyZone
from minfree.parsers._text import require_text, to_int

_LINE = re.compile(r"Node\s+([0-9]+),\s*zone\s+(\S+)((?:\s+\S+)*)\s*", re.ASCII)


def parse_buddyinfo(text: str, source: str = "/proc/buddyinfo") -> BuddyInfo:
    """Parse buddyinfo text; every non-blank line must be a zone line."""
    require_text(text, source=source)
    zones: list[BuddyZone] = []
    seen: set[tuple[int, str]] = set()
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _LINE.fullmatch(line)
        if not match:
            raise ParseError(
                f"expected 'Node N, zone NAME counts...', got {line[:60]!r}",
                source=source,
                line=lineno,
            )
        node, name = int(match.group(1)), match.group(2).rstrip(",")
        tokens = match.group(3).split()
        if not tokens:
            raise ParseError(f"zone {name} has no free counts", source=source, line=lineno)
        counts = tuple(to_int(t, source=source, line=lineno, what="free blocks") for t in tokens)
        if any(c < 0 for c in counts):
            raise ParseError("negative free block count", source=source, line=lineno)
        if (node, name) in seen:
            raise ParseError(f"zone {name} of node {node} listed twice", source=source, line=lineno)
        seen.add((node, name))
        zones.append(BuddyZone(node=node, name=name, free_blocks=counts))
    return BuddyInfo(zones=tuple(zones))
