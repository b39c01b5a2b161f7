"""Parse ``/proc/zoneinfo`` of any era (2.6.16 to 6.19) into :class:`ZoneInfo`.

The format is a sequence of ``Node N, zone NAME`` blocks (mm/vmstat.c ``zoneinfo_show_print``).
Each era added or moved lines (kernel-facts §6.1); rather than branch on versions, the parser
recognises line *shapes*:

- ``per-node stats`` opens the node's vmstat block (4.8/4.9+), which ends at ``pages free``;
- ``key value`` (no colon) is a named field when known (min, low, high, boost, promo,
  spanned, present, managed, cma, scanned, ...) and a per-zone counter otherwise;
- ``protection: (a, b, ...)`` is the ``lowmem_reserve`` row;
- ``pagesets`` / ``cpu: N [pcp: M]`` / ``count:`` ``high:`` ``batch:`` ``high_min:``
  ``high_max:`` / ``vm stats threshold: N`` are the per-cpu lists;
- any other ``key: value`` is kept in ``extra`` (``node_unreclaimable``, ``start_pfn``,
  ``all_unreclaimable``, ``prev_priority``, ``inactive_ratio`` ...).

Anything else raises :class:`~minfree.errors.ParseError` with the file and line.

>>> text = '''Node 0, zone      DMA
...   pages free     3840
...         boost    0
...         min      55
...         low      68
...         high     81
...         promo    94
...         spanned  4095
...         present  3998
...         managed  3840
...         cma      0
...         protection: (0, 3019, 4555, 4555, 4555)
...       nr_free_pages 3840
...   pagesets
...     cpu: 0
...               count:    0
...               high:     0
...               batch:    1
...               high_min: 34
...               high_max: 240
...   vm stats threshold: 4
...   node_unreclaimable:  0
...   start_pfn:           1
... '''
>>> z = parse_zoneinfo(text).zones[0]
>>> (z.name, z.min_pages, z.promo_pages, z.protection_pages[1], z.stat_threshold_pages)
('DMA', 55, 94, 3019, 4)
"""

from __future__ import annotations

import re

from minfree.errors import ParseError
from minfree.model.buddyinfo import BuddyInfo
from minfree.model.pagetypeinfo import PageTypeInfo
from minfree.model.zone import ZONE_ORDER_32BIT, ZONE_ORDER_X86_64, Zone
from minfree.model.zoneinfo import PageSet, ZoneInfo, ZoneInfoZone
from minfree.parsers._text import is_int, require_text, to_int

_ZONE_HEADER = re.compile(r"Node\s+([0-9]+),\s*zone\s+(\S+)\s*", re.ASCII)
_PAGES_FREE = re.compile(r"pages\s+free\s+(\S+)", re.ASCII)
_PROTECTION = re.compile(r"protection:\s*\((.*)\)", re.ASCII)
_CPU = re.compile(r"cpu:\s*([0-9]+)(?:\s+pcp:\s*([0-9]+))?", re.ASCII)
_THRESHOLD = re.compile(r"vm stats threshold:\s*(\S+)", re.ASCII)
_COLON = re.compile(r"([A-Za-z_][A-Za-z0-9_ ]*?):\s*(.*)", re.ASCII)
_KEY_VALUE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s+(\S+)(?:\s+(.*))?", re.ASCII)

#: ``key value`` lines that are zone fields rather than vmstat counters.
_FIELDS = {
    "min": "min_pages",
    "low": "low_pages",
    "high": "high_pages",
    "promo": "promo_pages",
    "boost": "boost_pages",
    "spanned": "spanned_pages",
    "present": "present_pages",
    "managed": "managed_pages",
    "cma": "cma_pages",
}
#: Other non-counter ``key value`` lines of old eras, kept raw in ``extra``
#: (``scanned  0 (a: 0 i: 0)`` on 2.6.x carries trailing text).
_OLD_FIELDS = {"scanned", "node_scanned", "active", "inactive"}
_PAGESET_KEYS = {"count", "high", "batch", "high_min", "high_max"}


class _ZoneBuilder:
    """Mutable accumulator for one zone block while its lines are read."""

    def __init__(self, node: int, name: str, line: int) -> None:
        self.node = node
        self.name = name
        self.line = line
        self.free: int | None = None
        self.fields: dict[str, int] = {}
        self.counters: dict[str, int] = {}
        self.extra: dict[str, str] = {}
        self.protection: tuple[int, ...] = ()
        self.pagesets: list[dict[str, int | None]] = []
        self.start_pfn: int | None = None


def parse_zoneinfo(text: str, source: str = "/proc/zoneinfo") -> ZoneInfo:
    """Parse the text of ``/proc/zoneinfo``; ``source`` names the file in errors."""
    require_text(text, source=source)
    builders: list[_ZoneBuilder] = []
    node_stats: dict[int, dict[str, int]] = {}
    current: _ZoneBuilder | None = None
    # section: "zone" (fields/counters), "node" (per-node stats), "pagesets"
    section = "zone"
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        header = _ZONE_HEADER.fullmatch(line)
        if header:
            current = _ZoneBuilder(int(header.group(1)), header.group(2), lineno)
            builders.append(current)
            section = "zone"
            continue
        if current is None:
            raise ParseError(
                f"expected 'Node N, zone NAME', got {line[:60]!r}", source=source, line=lineno
            )
        if line == "per-node stats":
            if current.node in node_stats:
                raise ParseError(
                    f"second per-node stats block for node {current.node}",
                    source=source,
                    line=lineno,
                )
            node_stats[current.node] = {}
            section = "node"
            continue
        match = _PAGES_FREE.fullmatch(line)
        if match:
            if current.free is not None:
                raise ParseError("'pages free' twice in one zone", source=source, line=lineno)
            current.free = to_int(match.group(1), source=source, line=lineno, what="pages free")
            section = "zone"
            continue
        if section == "node":
            if is_int(line):
                # RHEL 8 (4.18.0-80) prints one node counter with no name (its name table
                # is one entry short). Keep the value under a placeholder key.
                stats = node_stats[current.node]
                stats[f"(unnamed {len(stats)})"] = int(line)
                continue
            kv = _KEY_VALUE.fullmatch(line)
            if not kv or kv.group(3):
                raise ParseError(
                    f"bad per-node stats line {line[:60]!r}", source=source, line=lineno
                )
            node_stats[current.node][kv.group(1)] = to_int(
                kv.group(2), source=source, line=lineno, what=kv.group(1)
            )
            continue
        match = _PROTECTION.fullmatch(line)
        if match:
            body = match.group(1).strip()
            parts = [p.strip() for p in body.split(",")] if body else []
            current.protection = tuple(
                to_int(p, source=source, line=lineno, what="protection") for p in parts
            )
            continue
        if line == "pagesets":
            section = "pagesets"
            continue
        match = _CPU.fullmatch(line)
        if match and section == "pagesets":
            pcp = int(match.group(2)) if match.group(2) is not None else None
            current.pagesets.append({"cpu": int(match.group(1)), "pcp": pcp})
            continue
        match = _THRESHOLD.fullmatch(line)
        if match:
            value = to_int(match.group(1), source=source, line=lineno, what="vm stats threshold")
            if current.pagesets:
                current.pagesets[-1]["stat_threshold"] = value
            else:
                current.extra["vm stats threshold"] = match.group(1)
            continue
        colon = _COLON.fullmatch(line)
        if colon:
            key, value_text = colon.group(1).strip(), colon.group(2).strip()
            if section == "pagesets" and key in _PAGESET_KEYS and current.pagesets:
                current.pagesets[-1][key] = to_int(value_text, source=source, line=lineno, what=key)
                continue
            if key == "start_pfn":
                current.start_pfn = to_int(value_text, source=source, line=lineno, what=key)
                continue
            # node_unreclaimable, all_unreclaimable, prev_priority, inactive_ratio, ...
            current.extra[key] = value_text
            section = "zone"
            continue
        kv = _KEY_VALUE.fullmatch(line)
        if kv:
            key, value_text, rest = kv.group(1), kv.group(2), kv.group(3)
            if key in _FIELDS and not rest:
                current.fields[key] = to_int(value_text, source=source, line=lineno, what=key)
                continue
            if key in _OLD_FIELDS:
                current.extra[key] = f"{value_text} {rest}" if rest else value_text
                continue
            if rest is None and is_int(value_text):
                current.counters[key] = int(value_text)
                continue
        raise ParseError(f"unrecognised line {line[:60]!r}", source=source, line=lineno)
    if not builders:
        raise ParseError("no 'Node N, zone NAME' block found", source=source)
    indices = _zone_indices(builders)
    zones = tuple(_finish(b, idx, source) for b, idx in zip(builders, indices, strict=True))
    seen: set[tuple[int, str]] = set()
    for z in zones:
        if (z.node, z.name) in seen:
            raise ParseError(
                f"zone {z.name} of node {z.node} listed twice", source=source, line=z.line
            )
        seen.add((z.node, z.name))
    return ZoneInfo(zones=zones, node_stats=node_stats, source=source)


def _finish(b: _ZoneBuilder, index: int, source: str) -> ZoneInfoZone:
    """Check that a zone block is complete (a truncated file ends mid-zone) and freeze it."""
    where = f"zone {b.name} of node {b.node}"
    if b.free is None:
        raise ParseError(
            f"{where} has no 'pages free' line (truncated?)", source=source, line=b.line
        )
    for key in ("min", "low", "high"):
        if key not in b.fields:
            raise ParseError(
                f"{where} has no '{key}' line (truncated?)", source=source, line=b.line
            )
    pagesets = tuple(
        PageSet(
            cpu=int(p["cpu"] or 0),
            count=p.get("count"),
            high=p.get("high"),
            batch=p.get("batch"),
            high_min=p.get("high_min"),
            high_max=p.get("high_max"),
            pcp=p.get("pcp"),
            stat_threshold=p.get("stat_threshold"),
        )
        for p in b.pagesets
    )
    f = b.fields
    return ZoneInfoZone(
        node=b.node,
        name=b.name,
        index=index,
        free_pages=b.free,
        min_pages=f["min"],
        low_pages=f["low"],
        high_pages=f["high"],
        promo_pages=f.get("promo"),
        boost_pages=f.get("boost"),
        spanned_pages=f.get("spanned"),
        present_pages=f.get("present"),
        managed_pages=f.get("managed"),
        cma_pages=f.get("cma"),
        protection_pages=b.protection,
        counters=b.counters,
        pagesets=pagesets,
        start_pfn=b.start_pfn,
        extra=b.extra,
        line=b.line,
    )


def _zone_indices(builders: list[_ZoneBuilder]) -> list[int]:
    """Each zone's ``zone_idx`` within its node.

    4.12+ prints every zone of every node, so the position in the node's list is the index.
    Older kernels skip unpopulated zones (a second node with only ``Normal``), so the index
    comes from one zone order for the whole file: the longest node list, merged with the
    others, falling back to the usual x86_64 / 32-bit orders for names it lacks.
    """
    per_node: dict[int, list[str]] = {}
    for b in builders:
        per_node.setdefault(b.node, []).append(b.name)
    lists = sorted(per_node.values(), key=len, reverse=True)
    order: list[str] = list(lists[0])
    reference = (
        ZONE_ORDER_X86_64 if "DMA32" in order or "HighMem" not in order else ZONE_ORDER_32BIT
    )
    for names in lists[1:]:
        for name in names:
            if name in order:
                continue
            # Insert after the last known name that precedes it in the reference order.
            pos = len(order)
            if name in reference:
                ref_idx = reference.index(name)
                for i, existing in enumerate(order):
                    if existing in reference and reference.index(existing) > ref_idx:
                        pos = i
                        break
            order.insert(pos, name)
    return [order.index(b.name) for b in builders]


def parse_zones(
    zoneinfo_text: str,
    buddyinfo_text: str | None = None,
    pagetypeinfo_text: str | None = None,
    *,
    source: str = "/proc/zoneinfo",
) -> tuple[Zone, ...]:
    """Convenience: texts of zoneinfo (+ buddyinfo, pagetypeinfo) -> shared Zone values."""
    from minfree.parsers.buddyinfo import parse_buddyinfo
    from minfree.parsers.pagetypeinfo import parse_pagetypeinfo

    buddy: BuddyInfo | None = parse_buddyinfo(buddyinfo_text) if buddyinfo_text else None
    ptype: PageTypeInfo | None = (
        parse_pagetypeinfo(pagetypeinfo_text) if pagetypeinfo_text else None
    )
    return parse_zoneinfo(zoneinfo_text, source=source).to_zones(buddy, ptype)
