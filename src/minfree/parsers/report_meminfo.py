"""The ``show_mem()`` block of a failure report (``Mem-Info:`` and what follows).

Every era's layout (kernel-facts §5.2) is read line by line: the global counters (pages,
possibly over several indented or ``#012``-split lines), per-node lines (kB), per-zone lines
(kB, wrapped by mail clients in old posts), ``lowmem_reserve[]`` rows (pages), buddy lines
(``count*size`` per order, ``*`` shown as ``_`` by Markdown renderers, migratetype letters),
hugepage, pagecache, swap and RAM summary lines.

    >>> b = MemInfoBuilder()
    >>> b.feed("Node 0 Normal free:6380kB min:6112kB low:7640kB high:9168kB present:4395520kB")
    True
    >>> b.feed("lowmem_reserve[]: 0 0 0 0")
    True
    >>> b.feed("Node 0 Normal: 1310*4kB 99*8kB 6_16kB 0*32kB = 6256kB")
    True
    >>> block = b.build()
    >>> block.zones[0].min_kb, block.zones[0].lowmem_reserve_pages, block.buddy[0].counts
    (6112, (0, 0, 0, 0), (1310, 99, 6, 0))
"""

from __future__ import annotations

import re

from minfree.model.report import BuddyLine, HugepagesLine, MemInfoBlock, MemInfoZone

ZONE_NAMES = ("DMA32", "DMA", "Normal", "HighMem", "Movable", "Device")
_ZONE_ALT = "|".join(ZONE_NAMES)

_ZONE_LINE = re.compile(rf"^(?:Node (\d+) )?({_ZONE_ALT}) free:(\d+)kB", re.ASCII)
_KB_PAIR = re.compile(r"([A-Za-z_][\w()]*):\s?(\d+)[kK]B\b", re.ASCII)
_OTHER_PAIR = re.compile(r"([A-Za-z_][\w()]*):\s?(\d+)(?![\dkKM])", re.ASCII)
_UNRECLAIMABLE = re.compile(r"all_unreclaimable\? (yes|no)", re.ASCII)
_LOWMEM = re.compile(r"^lowmem_reserve\[\]:((?:\s+\d+)*)\s*$", re.ASCII)
_BUDDY_HEAD = re.compile(rf"^(?:Node (\d+) )?({_ZONE_ALT}): ", re.ASCII)
_BUDDY_ENTRY = re.compile(r"(\d+)[*_](\d+)kB(?: \(([A-Z]+)\))?", re.ASCII)
_BUDDY_TOTAL = re.compile(r"= ?(\d+)kB\s*$", re.ASCII)
_HUGE = re.compile(
    r"^(?:Node (\d+) )?hugepages_total=(\d+) hugepages_free=(\d+) hugepages_surp=(\d+) "
    r"hugepages_size=(\d+)kB", re.ASCII)
_NODE_LINE = re.compile(r"^Node (\d+) (active_anon|Active|active):", re.ASCII)
# Pairs separated by blanks: one way to split a line, so matching stays linear.
_PAGE_PAIRS = re.compile(r"^\s*[A-Za-z_][\w()]*:\s?\d+(?:\s+[A-Za-z_][\w()]*:\s?\d+)*\s*$", re.ASCII)
_PAGE_PAIR = re.compile(r"([A-Za-z_][\w()]*):\s?(\d+)", re.ASCII)
_KB_TOKEN = r"(?:[A-Za-z_][\w()]*:\s?\d+(?:[kK]B)?|all_unreclaimable\? (?:yes|no))"
_KB_PAIRS_ONLY = re.compile(rf"^\s*{_KB_TOKEN}(?:\s+{_KB_TOKEN})*\s*$", re.ASCII)
#: Names of the global counter lines (pages) in every era; a line of name:number pairs
#: with none of them is something else (ARM register dumps look alike).
_GLOBAL_NAMES = frozenset((
    "active_anon", "Active_anon", "inactive_anon", "isolated_anon", "active_file", "inactive_file",
    "isolated_file", "unevictable", "dirty", "writeback", "unstable", "free", "free_pcp",
    "free_cma", "slab", "slab_reclaimable", "slab_unreclaimable", "mapped", "shmem", "pagetables",
    "sec_pagetables", "bounce", "kernel_misc_reclaimable", "Active", "inactive",
))
_SUMMARY = (
    (re.compile(r"^(\d+) total pagecache pages", re.ASCII), "pagecache_pages"),
    (re.compile(r"^(\d+) pages in swap cache", re.ASCII), "swap_cache_pages"),
    (re.compile(r"^(\d+) pages swap cached", re.ASCII), "swap_cache_pages"),
    (re.compile(r"^Free swap\s*[=:]\s*(-?\d+)kB", re.ASCII), "free_swap_kb"),
    (re.compile(r"^Total swap\s*=\s*(\d+)kB", re.ASCII), "total_swap_kb"),
    (re.compile(r"^(\d+) pages (?:of )?RAM", re.ASCII), "ram_pages"),
    (re.compile(r"^(\d+) pages HighMem", re.ASCII), "highmem_pages"),
    (re.compile(r"^(\d+) (?:pages reserved|reserved pages)", re.ASCII), "reserved_pages"),
    (re.compile(r"^(\d+) pages cma reserved", re.ASCII), "cma_reserved_pages"),
    (re.compile(r"^(\d+) pages hwpoisoned", re.ASCII), "hwpoisoned_pages"),
    (re.compile(r"^(\d+) pages shared", re.ASCII), "shared_pages"),
)
_OTHER_KNOWN = re.compile(
    r"^(?:Mem-[Ii]nfo:|(?:Node \d+ )?\w+ per-cpu:|CPU\s+\d+: hi:|cpu \d+ (?:hot|cold):|"
    r"Swap cache(?: stats)?:|Free pages:|\d+ pages non-shared|Total swap|"
    r"\d+ pages (?:reserved|shared|swap cached))",
    re.ASCII,
)
#: Lines after which the show_mem block is over.
_TAIL = re.compile(r"^(?:\d+ pages hwpoisoned|\d+ pages cma reserved|\d+ (?:pages reserved|reserved pages)|"
                   r"\d+ pages non-shared|\d+ pages swap cached)", re.ASCII)


def _kb_pairs(text: str) -> dict[str, int]:
    return {name: int(value) for name, value in _KB_PAIR.findall(text)}


def _other_pairs(text: str) -> dict[str, str]:
    pairs = {name: value for name, value in _OTHER_PAIR.findall(text)}
    match = _UNRECLAIMABLE.search(text)
    if match:
        pairs["all_unreclaimable?"] = match.group(1)
    return pairs


class MemInfoBuilder:
    """Accumulates the lines of one Mem-Info block; :meth:`feed` says whether a line belongs.

    Not thread-safe and not frozen: it is the parser's scratch state; :meth:`build` returns
    the frozen :class:`~minfree.model.report.MemInfoBlock`.
    """

    def __init__(self) -> None:
        self.started = False
        self.finished = False
        self._global: dict[str, int] = {}
        self._nodes: dict[int, dict[str, str]] = {}
        self._zones: list[dict] = []
        self._buddy: list[BuddyLine] = []
        self._huge: list[HugepagesLine] = []
        self._summary: dict[str, int] = {}
        self._last: str | None = None  # "zone", "buddy", "global", "node"
        self._pending_buddy: tuple[int | None, str, str] | None = None
        # True while only trailing summary lines (swap, RAM) were seen: those alone are not
        # a Mem-Info block (posts often keep just "Free swap:" after a trace).
        self._summary_only = False

    # -- lines -------------------------------------------------------------------------
    def feed(self, message: str) -> bool:
        """Take one prefix-free line; True when it is part of a Mem-Info block."""
        text = message.strip()
        if not text:
            return False
        if self._pending_buddy is not None:
            node, zone, acc = self._pending_buddy
            if _BUDDY_ENTRY.match(text):
                self._pending_buddy = None
                return self._buddy_line(node, zone, acc + " " + text)
            self._pending_buddy = None
            self._buddy_line(node, zone, acc, force=True)
        first = text[0]
        if first in "NDHM" or first == "n":
            match = _ZONE_LINE.match(text)
            if match:
                self._zone_line(match, text)
                return True
            match = _NODE_LINE.match(text)
            if match:
                node = int(match.group(1))
                entry = self._nodes.setdefault(node, {})
                entry.update(_other_pairs(text))
                for name, value in _KB_PAIR.findall(text):
                    entry[name] = f"{value}kB"
                self._last = "node"
                self.started = True
                return True
            match = _BUDDY_HEAD.match(text)
            if match:
                node = int(match.group(1)) if match.group(1) else None
                rest = text[match.end():]
                if rest.strip() == "empty":
                    self._buddy.append(BuddyLine(node, match.group(2), (), (), (), None, empty=True))
                    self._last = "buddy"
                    self.started = True
                    return True
                if _BUDDY_ENTRY.match(rest):
                    return self._buddy_line(node, match.group(2), rest)
            match = _HUGE.match(text)
            if match:
                node = int(match.group(1)) if match.group(1) else None
                self._huge.append(HugepagesLine(node, int(match.group(2)), int(match.group(3)),
                                                int(match.group(4)), int(match.group(5))))
                self.started = True
                return True
        if first == "l":
            match = _LOWMEM.match(text)
            if match:
                values = tuple(int(v) for v in match.group(1).split())
                if self._zones and self._zones[-1].get("lowmem") is None:
                    self._zones[-1]["lowmem"] = values
                self._last = "lowmem"
                self.started = True
                return True
        if first.isdigit() or first in "FTS":
            for pattern, name in _SUMMARY:
                match = pattern.match(text)
                if match:
                    self._summary.setdefault(name, int(match.group(1)))
                    self._summary_only = not self.started
                    self.started = True
                    if _TAIL.match(text):
                        self.finished = True
                    return True
        if _OTHER_KNOWN.match(text):
            self.started = True
            return True
        if _PAGE_PAIRS.match(text) and _GLOBAL_NAMES.intersection(
                name for name, _value in _PAGE_PAIR.findall(text)):
            # Global counters (pages), possibly continued over several lines; a mail-wrapped
            # zone line continues with kB pairs instead and is handled below.
            for name, value in _PAGE_PAIR.findall(text):
                self._global.setdefault(name, int(value))
            self._last = "global"
            self.started = True
            return True
        if self._last == "zone" and _KB_PAIRS_ONLY.match(text):
            zone = self._zones[-1]
            zone["kb"].update({k: v for k, v in _kb_pairs(text).items() if k not in zone["kb"]})
            zone["other"].update(_other_pairs(text))
            return True
        return self._last == "global" and _KB_PAIRS_ONLY.match(text) is not None

    def _zone_line(self, match: re.Match[str], text: str) -> None:
        self._zones.append({
            "node": int(match.group(1)) if match.group(1) else None,
            "zone": match.group(2),
            "kb": _kb_pairs(text),
            "other": _other_pairs(text),
            "lowmem": None,
        })
        self._last = "zone"
        self.started = True

    def _buddy_line(self, node: int | None, zone: str, rest: str, force: bool = False) -> bool:
        total = _BUDDY_TOTAL.search(rest)
        if total is None and not force:
            self._pending_buddy = (node, zone, rest)
            self.started = True
            return True
        entries = _BUDDY_ENTRY.findall(rest)
        self._buddy.append(BuddyLine(
            node=node,
            zone=zone,
            counts=tuple(int(c) for c, _s, _m in entries),
            block_kb=tuple(int(s) for _c, s, _m in entries),
            migratetypes=tuple(m for _c, _s, m in entries),
            total_kb=int(total.group(1)) if total else None,
        ))
        self._last = "buddy"
        self.started = True
        return True

    # -- result ------------------------------------------------------------------------
    def build(self) -> MemInfoBlock | None:
        """The block, or None when no Mem-Info line was seen."""
        if self._pending_buddy is not None:
            node, zone, acc = self._pending_buddy
            self._pending_buddy = None
            self._buddy_line(node, zone, acc, force=True)
        if not self.started or (self._summary_only and not (
                self._global or self._zones or self._buddy or self._nodes or self._huge)):
            return None
        zones = []
        for z in self._zones:
            kb = z["kb"]
            zones.append(MemInfoZone(
                node=z["node"],
                zone=z["zone"],
                free_kb=kb.get("free", 0),
                min_kb=kb.get("min"),
                low_kb=kb.get("low"),
                high_kb=kb.get("high"),
                boost_kb=kb.get("boost"),
                reserved_highatomic_kb=kb.get("reserved_highatomic"),
                free_highatomic_kb=kb.get("free_highatomic"),
                present_kb=kb.get("present"),
                managed_kb=kb.get("managed"),
                free_cma_kb=kb.get("free_cma"),
                fields_kb=dict(kb),
                fields=dict(z["other"]),
                lowmem_reserve_pages=z["lowmem"],
            ))
        return MemInfoBlock(
            global_counters=dict(self._global),
            nodes={k: dict(v) for k, v in self._nodes.items()},
            zones=tuple(zones),
            buddy=tuple(self._buddy),
            hugepages=tuple(self._huge),
            **self._summary,
        )
