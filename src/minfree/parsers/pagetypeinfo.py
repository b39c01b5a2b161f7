"""Parse ``/proc/pagetypeinfo`` (mm/vmstat.c ``pagetypeinfo_show``).

Sections: the ``Page block order`` / ``Pages per block`` header, the free counts per
migratetype and order (``Node %4d, zone %8s, type %12s`` rows; 5.4.286+ and 6.x print
``>100000`` for long lists), ``Number of blocks type`` (pageblocks per migratetype, column
order differs between 3.x and 4.4+, so it is read from the header) and, with
CONFIG_PAGE_OWNER, ``Number of mixed blocks``. Empty zones are not printed.

>>> p = parse_pagetypeinfo('''Page block order: 9
... Pages per block:  512
...
... Free pages count per migrate type at order       0      1      2
... Node    0, zone   Normal, type    Unmovable      1      0      9
... Node    0, zone   Normal, type      Movable   1098 >100000    369
...
... Number of blocks type     Unmovable      Movable
... Node 0, zone   Normal           54          950
... ''')
>>> p.pageblock_order, p.block_counts[(0, "Normal")]["Movable"], sorted(p.capped_orders[(0, "Normal")])
(9, 950, [1])
"""

from __future__ import annotations

import re

from minfree.errors import ParseError
from minfree.model.pagetypeinfo import PAGETYPEINFO_FREE_COUNT_CAP, PageTypeInfo
from minfree.parsers._text import require_text, to_int

_ORDER = re.compile(r"Page block order:\s*(\S+)", re.ASCII)
_PER_BLOCK = re.compile(r"Pages per block:\s*(\S+)", re.ASCII)
_FREE_HEADER = re.compile(r"Free pages count per migrate type at order((?:\s+\S+)*)", re.ASCII)
_FREE_ROW = re.compile(r"Node\s+([0-9]+),\s*zone\s+(\S+),\s*type\s+(\S+)((?:\s+\S+)*)", re.ASCII)
_BLOCKS_HEADER = re.compile(r"Number of (blocks|mixed blocks) type((?:\s+\S+)*)", re.ASCII)
_BLOCKS_ROW = re.compile(r"Node\s+([0-9]+),\s*zone\s+(\S+)((?:\s+\S+)*)", re.ASCII)


def parse_pagetypeinfo(text: str, source: str = "/proc/pagetypeinfo") -> PageTypeInfo:
    """Parse pagetypeinfo text; ``>100000`` becomes 100000 with the order marked capped."""
    require_text(text, source=source)
    pageblock_order: int | None = None
    pages_per_block: int | None = None
    free: dict[tuple[int, str], dict[str, tuple[int, ...]]] = {}
    capped: dict[tuple[int, str], set[int]] = {}
    blocks: dict[tuple[int, str], dict[str, int]] = {}
    mixed: dict[tuple[int, str], dict[str, int]] = {}
    section: str | None = None
    columns: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if m := _ORDER.fullmatch(line):
            pageblock_order = to_int(
                m.group(1), source=source, line=lineno, what="page block order"
            )
            continue
        if m := _PER_BLOCK.fullmatch(line):
            pages_per_block = to_int(m.group(1), source=source, line=lineno, what="pages per block")
            continue
        if m := _FREE_HEADER.fullmatch(line):
            section = "free"
            columns = m.group(1).split()
            continue
        if m := _BLOCKS_HEADER.fullmatch(line):
            section = "blocks" if m.group(1) == "blocks" else "mixed"
            columns = m.group(2).split()
            if not columns:
                raise ParseError(
                    "block count header names no migratetype", source=source, line=lineno
                )
            continue
        if section == "free" and (m := _FREE_ROW.fullmatch(line)):
            key = (int(m.group(1)), m.group(2))
            mtype = m.group(3)
            counts: list[int] = []
            for order, token in enumerate(m.group(4).split()):
                if token.startswith(">"):
                    to_int(token[1:], source=source, line=lineno, what="capped free count")
                    capped.setdefault(key, set()).add(order)
                    counts.append(PAGETYPEINFO_FREE_COUNT_CAP)
                else:
                    counts.append(to_int(token, source=source, line=lineno, what="free count"))
            if not counts or any(c < 0 for c in counts):
                raise ParseError(f"bad free counts for {mtype}", source=source, line=lineno)
            free.setdefault(key, {})[mtype] = tuple(counts)
            continue
        if section in ("blocks", "mixed") and (m := _BLOCKS_ROW.fullmatch(line)):
            key = (int(m.group(1)), m.group(2).rstrip(","))
            tokens = m.group(3).split()
            if len(tokens) != len(columns):
                raise ParseError(
                    f"{len(tokens)} block counts for {len(columns)} migratetypes",
                    source=source,
                    line=lineno,
                )
            row = {
                col: to_int(tok, source=source, line=lineno, what="block count")
                for col, tok in zip(columns, tokens, strict=True)
            }
            (blocks if section == "blocks" else mixed)[key] = row
            continue
        raise ParseError(f"unrecognised line {line[:60]!r}", source=source, line=lineno)
    if pageblock_order is None and not free and not blocks:
        raise ParseError("no pagetypeinfo content found", source=source)
    return PageTypeInfo(
        pageblock_order=pageblock_order,
        pages_per_block=pages_per_block,
        free_blocks_by_type=free,
        capped_orders={k: frozenset(v) for k, v in capped.items()},
        block_counts=blocks,
        mixed_block_counts=mixed,
    )
