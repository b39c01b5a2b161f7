"""Page allocation failure reports and related kernel events, as read from a kernel log.

A :class:`FailureReport` is one ``comm: page allocation failure: order:N, mode:0xM`` header
with everything the kernel printed after it: the ``CPU:``/``Pid:`` line, the call trace and
the ``show_mem()`` block (:class:`MemInfoBlock`). Units are in the field names: the Mem-Info
zone lines are in kB exactly as printed (``free_kb``), the global counters and
``lowmem_reserve[]`` in pages, as the kernel prints them. Values the log did not show are
``None``, never zero.

Events that look like failures but are not (OOM-killer reports, vmalloc failures, allocation
stalls, SLUB messages, 2.4-era ``__alloc_pages`` lines) are :class:`RelatedEvent` values and
are never counted as failures.

    >>> frame = TraceFrame(function="__netdev_alloc_skb", offset="0x15/0x2f")
    >>> frame.module is None, frame.unreliable
    (True, False)
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field

#: Kinds of :class:`RelatedEvent`, with the kernel text that produces them.
RELATED_KINDS: Mapping[str, str] = {
    "oom-killer": "'invoked oom-killer', 'Out of memory: Kill(ed) process', 'Killed process'",
    "vmalloc-failure": "'vmalloc: allocation failure' or 'vmalloc error: ... allocation failed'",
    "allocation-stall": "'page allocation stalls for NNNms' (4.9-4.14 warn_alloc)",
    "slub-unable-to-allocate": "'SLUB: Unable to allocate memory on node N, gfp=...'",
    "legacy-alloc-pages-failure": "2.4-era '__alloc_pages: N-order allocation failed'",
}


@dataclass(frozen=True)
class TraceFrame:
    """One call-trace frame.

    ``unreliable`` is the kernel's ``?`` mark (an address found on the stack that the
    unwinder could not prove is a return address). ``context`` is the section the frame was
    printed in: ``"IRQ"``, ``"NMI"``, ``"SOFTIRQ"``, ``"TASK"`` or None when the trace had no
    markers.
    """

    function: str
    offset: str | None = None
    module: str | None = None
    unreliable: bool = False
    context: str | None = None


@dataclass(frozen=True)
class MemInfoZone:
    """A per-zone Mem-Info line (``Node 0 Normal free:…kB min:…kB …``), in kB as printed.

    ``fields_kb`` holds every ``name:NkB`` pair of the line (including the named ones),
    ``fields`` every other ``name:value`` pair (``pages_scanned``, ``all_unreclaimable?``).
    ``lowmem_reserve_pages`` is the ``lowmem_reserve[]`` row printed after it (pages).
    """

    node: int | None
    zone: str
    free_kb: int
    min_kb: int | None = None
    low_kb: int | None = None
    high_kb: int | None = None
    boost_kb: int | None = None
    reserved_highatomic_kb: int | None = None
    free_highatomic_kb: int | None = None
    present_kb: int | None = None
    managed_kb: int | None = None
    free_cma_kb: int | None = None
    fields_kb: Mapping[str, int] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)
    lowmem_reserve_pages: tuple[int, ...] | None = None


@dataclass(frozen=True)
class BuddyLine:
    """A buddy line (``Node 0 Normal: 486*4kB (UEM) 46*8kB (UM) … = 2344kB``).

    ``counts`` are free blocks per order (order = index), ``block_kb`` the block size printed
    for each order, ``migratetypes`` the letters printed for each order ('' when none), and
    ``total_kb`` the printed total. ``empty`` is the 2.6-era ``Node 1 DMA: empty``.
    """

    node: int | None
    zone: str
    counts: tuple[int, ...]
    block_kb: tuple[int, ...]
    migratetypes: tuple[str, ...]
    total_kb: int | None
    empty: bool = False

    @property
    def page_size_kb(self) -> int | None:
        """Size of an order-0 block, i.e. the page size, when printed."""
        return self.block_kb[0] if self.block_kb else None

    def free_kb(self) -> int:
        """Sum of count × size (the kernel prints the same as ``total_kb``)."""
        return sum(c * s for c, s in zip(self.counts, self.block_kb, strict=False))


@dataclass(frozen=True)
class HugepagesLine:
    """``Node 0 hugepages_total=… hugepages_free=… hugepages_surp=… hugepages_size=…kB``."""

    node: int | None
    total: int
    free: int
    surplus: int
    size_kb: int


@dataclass(frozen=True)
class MemInfoBlock:
    """The ``show_mem()`` block printed after a failure header.

    ``global_counters`` are the page counts of the global lines (``free``, ``active_file``…),
    ``nodes`` the per-node lines (node -> name -> kB or text), ``zones`` the per-zone lines,
    ``buddy`` the buddy lines. The trailing summary lines are kept in named fields.
    """

    global_counters: Mapping[str, int] = field(default_factory=dict)
    nodes: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    zones: tuple[MemInfoZone, ...] = ()
    buddy: tuple[BuddyLine, ...] = ()
    hugepages: tuple[HugepagesLine, ...] = ()
    pagecache_pages: int | None = None
    swap_cache_pages: int | None = None
    free_swap_kb: int | None = None
    total_swap_kb: int | None = None
    ram_pages: int | None = None
    highmem_pages: int | None = None
    reserved_pages: int | None = None
    cma_reserved_pages: int | None = None
    hwpoisoned_pages: int | None = None
    shared_pages: int | None = None

    @property
    def page_size_kb(self) -> int | None:
        """Page size from the buddy lines (order-0 block size), e.g. 4 or 64; None if unknown."""
        for line in self.buddy:
            if line.page_size_kb:
                return line.page_size_kb
        return None

    def buddy_for(self, node: int | None, zone: str) -> BuddyLine | None:
        """The buddy line of (node, zone); a node-less line matches any node."""
        for line in self.buddy:
            if line.zone == zone and (line.node == node or line.node is None or node is None):
                return line
        return None


@dataclass(frozen=True)
class FailureReport:
    """One page allocation failure report.

    ``gfp_mask_text`` is the mask as printed (``"0x20"``), ``gfp_names_printed`` the decoded
    names the kernel printed in parentheses (4.5+) or None. ``kernel_release`` comes from the
    report's ``CPU:``/``Pid:`` line, else from the last ``Linux version`` line before it
    (``kernel_release_from`` says which). ``suppressed`` is N of a preceding ``warn_alloc: N
    callbacks suppressed`` line. ``during_oom`` is true when the header appeared inside an
    OOM-killer report. ``after_vmalloc_failure`` is true when the header was printed by the
    vmalloc path (preceded by ``vmalloc: allocation failure``).
    """

    source: str
    first_line: int
    last_line: int
    process: str | None
    order: int | None
    gfp_mask: int | None
    gfp_mask_text: str | None
    gfp_names_printed: str | None = None
    timestamp_text: str | None = None
    timestamp: _dt.datetime | None = None
    uptime_seconds: float | None = None
    pid: int | None = None
    cpu: int | None = None
    kernel_release: str | None = None
    kernel_release_from: str | None = None
    taint: str | None = None
    hardware: str | None = None
    nodemask: str | None = None
    cpuset: str | None = None
    mems_allowed: str | None = None
    trace: tuple[TraceFrame, ...] = ()
    suppressed: int | None = None
    meminfo: MemInfoBlock | None = None
    during_oom: bool = False
    after_vmalloc_failure: bool = False
    header_text: str = ""
    header_lines: int = 1

    @property
    def location(self) -> str:
        """``source:line`` of the header, for messages."""
        return f"{self.source}:{self.first_line}"


@dataclass(frozen=True)
class RelatedEvent:
    """An event that is not a page allocation failure but belongs to the same story.

    ``kind`` is one of :data:`RELATED_KINDS`. ``text`` is the (prefix-free) line that
    identified it; ``victim`` the killed process of an OOM-killer event.
    """

    kind: str
    source: str
    line: int
    text: str
    process: str | None = None
    order: int | None = None
    gfp_mask: int | None = None
    gfp_mask_text: str | None = None
    gfp_names_printed: str | None = None
    timestamp_text: str | None = None
    timestamp: _dt.datetime | None = None
    uptime_seconds: float | None = None
    victim: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class LogScan:
    """What reading a set of kernel logs found, before any explanation.

    ``reports`` are the page allocation failure reports in the order read, each counted once:
    the copies of one report seen in several sources (``/dev/kmsg`` and ``kern.log``) are
    dropped and counted in ``duplicates_dropped``. ``related`` are the related events (also
    de-duplicated across sources), ``sources`` the labels of the logs read, ``notes`` what
    could not be read or was skipped. Built by
    :func:`minfree.sources.kernel_logs.read_failure_reports`; explained by
    :func:`minfree.analysis.failure_report.explain_scan`.
    """

    reports: tuple[FailureReport, ...] = ()
    related: tuple[RelatedEvent, ...] = ()
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    duplicates_dropped: int = 0
