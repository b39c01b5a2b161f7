"""Explain page allocation failure reports: where they came from, why they failed, what to do.

For each :class:`~minfree.model.report.FailureReport`:

* **context** — what the kernel was doing, read from the call trace and the process
  (network receive, TCP accept/socket clone, DMA buffer...), and whether it ran in
  interrupt or process context (:func:`classify_context`);
* **verdict** — when the report carries a Mem-Info block, every zone the allocation may use
  is rebuilt as a :class:`~minfree.model.zone.Zone` (kB converted with the page size the buddy
  lines show) and put through the kernel's own watermark check
  (:func:`minfree.kernel.watermark_check.zone_watermark_ok`, the one implementation) with the
  ALLOC flags the GFP mode gets in that kernel era (:func:`minfree.kernel.gfp.decode_gfp`):
  ``reserve-exhausted`` (free pages under the reduced min + lowmem_reserve),
  ``fragmented`` (enough free pages, no free block of the order), ``constrained`` (a cpuset
  or nodemask kept it off zones that had room) or ``unknown`` (no Mem-Info: reasoned from
  order and mode, and said so);
* **advice** — one or two plain sentences.

:func:`explain_scan` explains and groups the reports of a
:class:`~minfree.model.report.LogScan`, which
:func:`minfree.sources.kernel_logs.read_failure_reports` reads from the logs: ``scan``,
``doctor``, the exporter and the HTML report compose the two.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from minfree.model.report import FailureReport, LogScan, MemInfoBlock, RelatedEvent, TraceFrame
from minfree.model.zone import Zone

if TYPE_CHECKING:  # pragma: no cover
    from minfree.kernel.gfp import GfpDecoding

VERDICTS = ("reserve-exhausted", "fragmented", "constrained", "unknown")

#: Context kinds, most specific first (the first kind found in the allocating part of the
#: trace wins in this order).
CONTEXT_LABELS: dict[str, str] = {
    "tcp-accept": "TCP accept / socket clone (sk_clone)",
    "dma-coherent": "DMA-coherent buffer",
    "firmware-load": "firmware load",
    "network-receive": "network receive (NAPI / driver RX refill)",
    "network-transmit": "network transmit",
    "block-filesystem": "block I/O or filesystem",
    "slab-refill": "slab refill",
    "syscall": "system call",
    "kernel-thread": "kernel thread",
    "unknown": "unknown (no call trace)",
}

_ALLOCATOR_PREFIXES = (
    "dump_stack", "warn_alloc", "show_stack", "unwind_backtrace", "dump_backtrace",
    "__alloc_pages", "alloc_pages", "__get_free_pages", "get_zeroed_page", "__alloc_frozen_pages",
    "alloc_page_interleave", "alloc_slab_page", "__alloc_page_frag", "page_frag_alloc",
    "__page_frag_cache_refill", "kmalloc_order", "kmalloc_large", "__kmalloc_large",
    "__folio_alloc", "folio_alloc", "__rmqueue", "get_page_from_freelist", "alloc_kmem_pages",
    "kmalloc_order_trace", "__alloc_pages_direct_compact", "wakeup_kswapd",
)
#: Modules whose frames mean block I/O or a filesystem.
_BLOCK_FS_MODULES = ("xfs", "ext4", "btrfs", "nfs", "nfsd", "zfs", "f2fs", "ceph", "jbd2", "raid",
                     "md_mod", "bcache", "nvme", "scsi", "sd_mod", "dm_", "ocfs2", "gfs2", "fuse")
_SLAB = ("new_slab", "allocate_slab", "___slab_alloc", "__slab_alloc", "cache_grow",
         "cache_alloc_refill", "kmem_getpages", "fallback_alloc", "refill_objects",
         "____cache_alloc", "kmem_cache_alloc", "__kmalloc", "kmalloc_trace", "__kmem_cache_alloc",
         "kmalloc_node", "__kmalloc_node", "kmem_cache_alloc_node", "kmalloc_slab",
         "__pcs_replace_empty_main", "slab_alloc")
_CONTEXT_RULES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    # kind, exact-or-prefix names, substrings
    ("tcp-accept", ("sk_clone", "sk_clone_lock", "inet_csk_clone", "inet_csk_clone_lock",
                    "tcp_create_openreq_child", "tcp_v4_syn_recv_sock", "tcp_v6_syn_recv_sock",
                    "inet_csk_accept", "sk_prot_alloc", "tcp_check_req"), ()),
    ("dma-coherent", ("dma_alloc_coherent", "dma_alloc_attrs", "dma_direct_alloc",
                      "atomic_pool_expand", "__dma_atomic_pool_init", "dma_atomic_pool_init",
                      "dma_generic_alloc_coherent", "dma_pool_alloc", "iommu_dma_alloc"),
     ("alloc_coherent", "swiotlb_alloc")),
    ("firmware-load", ("request_firmware", "_request_firmware", "request_firmware_direct",
                       "firmware_loading_store", "fw_get_filesystem_firmware",
                       "request_firmware_nowait", "fw_load_from_user_helper"), ("_firmware",)),
    ("network-receive", ("__netdev_alloc_skb", "netdev_alloc_skb", "__napi_alloc_skb",
                         "napi_alloc_skb", "napi_alloc_frag", "netdev_alloc_frag", "dev_alloc_skb",
                         "netif_receive_skb", "__netif_receive_skb", "__netif_receive_skb_core",
                         "net_rx_action", "napi_poll", "__napi_poll", "napi_gro_receive",
                         "ip_rcv", "ip_rcv_finish", "tcp_v4_rcv", "tcp_v6_rcv", "udp_rcv",
                         "tcp_rcv_established", "tcp_data_queue", "tcp_collapse", "rx_submit",
                         "rx_complete", "page_pool_alloc_pages", "build_skb", "napi_build_skb"),
     ("alloc_rx", "rx_alloc", "rx_refill", "refill_rx", "clean_rx", "_rx_irq", "rx_buf",
      "_poll", "_rx_completed", "alloc_rx_skb", "handle_rx")),
    ("network-transmit", ("dev_queue_xmit", "__dev_queue_xmit", "dev_hard_start_xmit",
                          "tcp_sendmsg", "tcp_write_xmit", "tcp_transmit_skb", "ip_queue_xmit",
                          "sk_stream_alloc_skb", "tcp_stream_alloc_skb", "sock_alloc_send_pskb",
                          "udp_sendmsg", "ip_output", "ip_finish_output"), ("_xmit", "_tx_")),
    ("block-filesystem", ("submit_bio", "bio_alloc", "bio_alloc_bioset", "mempool_alloc",
                          "blk_mq_alloc_request", "generic_file_read_iter",
                          "__do_page_cache_readahead", "page_cache_ra_unbounded",
                          "generic_perform_write", "writeback_sb_inodes", "prune_icache_sb",
                          "super_cache_scan"),
     ("ext4_", "xfs_", "btrfs_", "nfs_", "f2fs_", "zfs_", "dm_", "blk_", "scsi_", "nvme_", "bio_",
      "jbd2_", "iomap_", "vfs_", "writeback", "bcache", "md_", "raid", "dmwb_", "submit_")),
)
_SYSCALL_NAMES = ("entry_SYSCALL", "system_call", "do_syscall_64", "el0_svc", "invoke_syscall",
                  "ret_fast_syscall", "vector_swi", "__x64_sys_", "__arm64_sys_", "ksys_", "sys_",
                  "SyS_", "__do_sys_", "__se_sys_")
_KTHREAD_NAMES = ("kthread", "worker_thread", "process_one_work", "kswapd", "ret_from_kernel_thread",
                  "kernel_init", "do_one_initcall", "ret_from_fork")
_INTERRUPT_NAMES = ("__do_softirq", "net_rx_action", "do_IRQ", "handle_irq", "irq_exit",
                    "tasklet_action", "call_softirq", "do_softirq", "common_interrupt",
                    "handle_irq_event", "handle_edge_irq", "handle_level_irq", "gic_handle_irq",
                    "el1_irq", "ret_from_irq", "usb_giveback_urb_bh", "__irq_exit_rcu",
                    "run_ksoftirqd", "handle_softirqs", "asm_common_interrupt", "sysvec_")


@dataclass(frozen=True)
class Context:
    """What the kernel was doing when the allocation failed.

    ``interrupt`` is True for hard/soft interrupt context, False for process context, None
    when neither trace nor process name tell. ``evidence`` names the frame (or process)
    that decided ``kind``.
    """

    kind: str
    label: str
    interrupt: bool | None
    evidence: str | None = None

    @property
    def where(self) -> str:
        """``interrupt``, ``process`` or ``unknown``."""
        return {True: "interrupt", False: "process", None: "unknown"}[self.interrupt]


@dataclass(frozen=True)
class ZoneCheck:
    """The watermark check of one zone the allocation may use (pages)."""

    node: int
    zone: str
    index: int
    free_pages: int
    min_pages: int
    effective_min_pages: int | None
    reserve_pages: int | None
    usable_free_pages: int | None
    passed: bool
    failed_by: str | None
    highest_free_order: int | None


@dataclass(frozen=True)
class Verdict:
    """Why the allocation failed: ``kind`` in :data:`VERDICTS` plus a plain sentence.

    ``inferred`` is True when no Mem-Info block was available and the reason comes from
    order and mode alone.
    """

    kind: str
    reason: str
    inferred: bool
    zones: tuple[ZoneCheck, ...] = ()
    page_size_kb: int | None = None


@dataclass(frozen=True)
class AnalyzedReport:
    """A report with its decoded mode, context, verdict and advice."""

    report: FailureReport
    gfp: GfpDecoding | None
    context: Context
    verdict: Verdict
    advice: str

    @property
    def mode_text(self) -> str:
        r = self.report
        if r.gfp_mask_text is None:
            return "?"
        names = r.gfp_names_printed if r.gfp_names_printed is not None else (
            self.gfp.names if self.gfp is not None else None)
        return f"{r.gfp_mask_text}({names})" if names else r.gfp_mask_text


@dataclass(frozen=True)
class ReportGroup:
    """Reports of one (process, order, mode, context): how many, when, what verdicts."""

    process: str | None
    order: int | None
    mode: str
    context: str
    count: int
    first_seen: str | None
    last_seen: str | None
    verdicts: tuple[tuple[str, int], ...]
    suppressed: int
    sources: tuple[str, ...]
    advice: str

    @property
    def verdict(self) -> str:
        """The most frequent verdict of the group."""
        return self.verdicts[0][0] if self.verdicts else "unknown"


@dataclass(frozen=True)
class ScanResult:
    """Everything a scan found. ``notes`` say what could not be read or was skipped."""

    reports: tuple[AnalyzedReport, ...]
    related: tuple[RelatedEvent, ...]
    groups: tuple[ReportGroup, ...]
    sources: tuple[str, ...]
    notes: tuple[str, ...] = ()
    duplicates_dropped: int = 0
    related_counts: dict[str, int] = field(default_factory=dict)

    @property
    def failures(self) -> int:
        return len(self.reports)

    @property
    def suppressed(self) -> int:
        """Reports the kernel rate-limited away (sum of ``callbacks suppressed`` counts)."""
        return sum(a.report.suppressed or 0 for a in self.reports)


# -- context -------------------------------------------------------------------------------
def _matches(function: str, names: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    base = function.split(".", 1)[0]
    if base in names:
        return True
    return any(part in base for part in parts)


def _allocating_segment(trace: tuple[TraceFrame, ...]) -> list[TraceFrame]:
    """Frames of the section the allocation ran in (up to the first context change)."""
    frames = [f for f in trace if not f.function.startswith(_ALLOCATOR_PREFIXES)]
    if not frames:
        return []
    first_context = frames[0].context
    segment = []
    for frame in frames:
        if frame.context != first_context:
            break
        segment.append(frame)
    return segment


def classify_context(report: FailureReport) -> Context:
    """Context of the failed allocation from its trace (innermost section) and process.

        >>> from minfree.model.report import FailureReport, TraceFrame
        >>> r = FailureReport("x", 1, 1, "asd", 1, 0x20, "0x20", trace=(
        ...     TraceFrame("kmem_cache_alloc", unreliable=True), TraceFrame("sk_clone", unreliable=True),
        ...     TraceFrame("sys_accept4", unreliable=True)))
        >>> classify_context(r).kind
        'tcp-accept'
    """
    segment = _allocating_segment(report.trace)
    kind, evidence = None, None
    for rule_kind, names, parts in _CONTEXT_RULES:
        for frame in segment:
            if _matches(frame.function, names, parts) or (
                    rule_kind == "block-filesystem" and frame.module is not None
                    and frame.module.startswith(_BLOCK_FS_MODULES)):
                kind, evidence = rule_kind, frame.function
                break
        if kind:
            break
    if kind is None:
        for frame in segment:
            if frame.function.split(".", 1)[0] in _SLAB:
                kind, evidence = "slab-refill", frame.function
                break
    if kind is None:
        for frame in segment:
            if frame.function.startswith(_SYSCALL_NAMES):
                kind, evidence = "syscall", frame.function
                break
    if kind is None:
        for frame in segment:
            if frame.function.split(".", 1)[0] in _KTHREAD_NAMES:
                kind, evidence = "kernel-thread", frame.function
                break
    if kind is None:
        kind = "unknown" if not segment else "kernel-thread" if (
            report.process or "").startswith(("kworker", "kswapd", "kthreadd")) else "unknown"
        if kind == "unknown" and segment:
            evidence = segment[0].function
    interrupt = _interrupt(report, segment)
    label = CONTEXT_LABELS[kind]
    if kind == "unknown" and segment:
        label = f"other (innermost frame {segment[0].function})"
    return Context(kind=kind, label=label, interrupt=interrupt, evidence=evidence)


def _interrupt(report: FailureReport, segment: list[TraceFrame]) -> bool | None:
    if segment and segment[0].context in ("IRQ", "NMI", "SOFTIRQ"):
        return True
    if any(f.function.split(".", 1)[0].startswith(_INTERRUPT_NAMES) for f in segment):
        return True
    process = report.process or ""
    if process.startswith("ksoftirqd") or (process.startswith("swapper") and report.pid in (None, 0)):
        return True  # the idle task (pid 0) never allocates itself; ksoftirqd runs softirqs
    if segment:
        return False
    return None


# -- zones from the Mem-Info block ------------------------------------------------------------
_CANONICAL_ZONES = ("DMA", "DMA32", "Normal", "HighMem", "Movable", "Device")


def zone_indices(meminfo: MemInfoBlock) -> dict[str, int]:
    """Zone name -> kernel zone index for the zones of a report.

    Empty zones are not always printed, but ``lowmem_reserve[]`` has one entry per
    configured zone: the printed zones in kernel order, then Movable and Device fill it.
    """
    present = [name for name in _CANONICAL_ZONES if any(z.zone == name for z in meminfo.zones)]
    width = max((len(z.lowmem_reserve_pages or ()) for z in meminfo.zones), default=0)
    names = list(present)
    for extra in ("Movable", "Device"):
        if len(names) < width and extra not in names:
            names.append(extra)
    return {name: index for index, name in enumerate(names)}


def zones_from_meminfo(meminfo: MemInfoBlock, page_size_kb: int | None = None) -> tuple[Zone, ...]:
    """The report's zone lines as :class:`Zone` values (pages), with their buddy counts.

    ``page_size_kb`` defaults to the order-0 block size of the buddy lines, else 4.
    """
    page_kb = page_size_kb or meminfo.page_size_kb or 4
    indices = zone_indices(meminfo)
    zones = []
    for line in meminfo.zones:
        node = line.node if line.node is not None else 0
        buddy = meminfo.buddy_for(line.node, line.zone)
        blocks = buddy.counts if buddy is not None and not buddy.empty and buddy.counts else None
        by_type = None
        if buddy is not None and any(buddy.migratetypes):
            letters = {"U": "Unmovable", "M": "Movable", "E": "Reclaimable", "H": "HighAtomic",
                       "C": "CMA", "I": "Isolate", "R": "Reserve"}
            table: dict[str, list[int]] = {}
            for order, (count, marks) in enumerate(zip(buddy.counts, buddy.migratetypes,
                                                      strict=False)):
                for letter in marks:
                    name = letters.get(letter)
                    if name:
                        # The letters say which lists are non-empty, not how many blocks
                        # each holds: the order's total is an upper bound for each.
                        table.setdefault(name, [0] * len(buddy.counts))[order] = count
            by_type = {name: tuple(values) for name, values in table.items()}

        def pages(kb: int | None) -> int | None:
            return None if kb is None else kb // page_kb

        zones.append(Zone(
            node=node,
            name=line.zone,
            index=indices.get(line.zone, _CANONICAL_ZONES.index(line.zone)),
            free_pages=line.free_kb // page_kb,
            min_pages=pages(line.min_kb) or 0,
            low_pages=pages(line.low_kb) or 0,
            high_pages=pages(line.high_kb) or 0,
            boost_pages=pages(line.boost_kb) or 0,
            present_pages=pages(line.present_kb),
            managed_pages=pages(line.managed_kb),
            protection_pages=tuple(line.lowmem_reserve_pages or ()),
            free_blocks=blocks,
            free_blocks_by_migratetype=by_type,
            reserved_highatomic_pages=pages(line.reserved_highatomic_kb) or 0,
            free_highatomic_pages=pages(line.free_highatomic_kb),
            free_cma_pages=pages(line.free_cma_kb) or 0,
        ))
    return tuple(zones)


# -- verdict -----------------------------------------------------------------------------------
def decode_mode(report: FailureReport) -> GfpDecoding | None:
    """The report's GFP mask decoded for its kernel (None without a mask or decoder)."""
    if report.gfp_mask is None:
        return None
    try:
        from minfree.kernel.gfp import decode_gfp
    except ImportError:  # pragma: no cover - the decoder is part of the package
        return None
    try:
        return decode_gfp(report.gfp_mask, report.kernel_release, report.gfp_names_printed,
                          order=report.order or 0)
    except (ValueError, KeyError):
        return None


def _era_release(report: FailureReport, decoding: GfpDecoding | None):
    from minfree.kernel.release import KernelRelease

    release = KernelRelease.try_parse(report.kernel_release)
    if release is not None or decoding is None:
        return release
    # No release printed: take the oldest release of the GFP era the mask was read in.
    era = decoding.era
    return KernelRelease.try_parse({"rhel6": "2.6.32-642.el6", "rhel7": "3.10.0-1160.el7"}.get(era, era))


def _alloc_flags(decoding: GfpDecoding, context: Context, order: int):
    if context.interrupt:
        try:
            from minfree.kernel.gfp import alloc_flags_for

            return alloc_flags_for(decoding.mask, decoding.era, "interrupt", order=order)
        except (ImportError, ValueError, KeyError):
            return decoding.alloc_flags
    return decoding.alloc_flags


def _no_meminfo_verdict(report: FailureReport, decoding: GfpDecoding | None, why: str) -> Verdict:
    order = report.order
    atomic = decoding is not None and not decoding.can_sleep
    if order is None:
        reason = f"{why}; the order was not printed either, so the cause cannot be told"
    elif order == 0:
        reason = (f"{why}. An order-0 {'atomic ' if atomic else ''}allocation fails only when "
                  "free pages are under the (reduced) min watermark, so the reserve was most "
                  "likely exhausted (inferred from order and mode)")
    else:
        reason = (f"{why}. An order-{order} {'atomic ' if atomic else ''}allocation needs a free "
                  f"block of {4 << order} kB; such failures are most often fragmentation, but "
                  "an exhausted reserve gives the same message (inferred from order and mode)")
    return Verdict(kind="unknown", reason=reason, inferred=True)


def judge(report: FailureReport, decoding: GfpDecoding | None, context: Context) -> Verdict:
    """The verdict for one report (see the module docstring)."""
    meminfo = report.meminfo
    if meminfo is None or not meminfo.zones:
        why = "no Mem-Info block in the log" if meminfo is None else \
            "the Mem-Info block has no per-zone lines"
        return _no_meminfo_verdict(report, decoding, why)
    if decoding is None or report.order is None:
        return _no_meminfo_verdict(report, decoding, "the GFP mode or order could not be decoded")
    try:
        from minfree.kernel.alloc_flags import WatermarkLevel
        from minfree.kernel.watermark_check import check_era_for, zone_watermark_ok
    except ImportError:
        return _no_meminfo_verdict(report, decoding, "the watermark check is not available")
    if decoding.min_fraction is None and not context.interrupt:
        return Verdict("unknown", "this mode skips the watermark check (ALLOC_NO_WATERMARKS), "
                       "so the failure means no free page at all", inferred=False)
    zones = zones_from_meminfo(meminfo)
    page_kb = meminfo.page_size_kb or 4
    indices = zone_indices(meminfo)
    highest = decoding.highest_zone or "Normal"
    if highest not in indices:
        usable = [n for n in _CANONICAL_ZONES[: _CANONICAL_ZONES.index(highest) + 1] if n in indices]
        highest = usable[-1] if usable else highest
    highest_idx = indices.get(highest, 2)
    era = check_era_for(_era_release(report, decoding))
    flags = _alloc_flags(decoding, context, report.order)
    allowed_nodes = _allowed_nodes(report)
    checks: list[ZoneCheck] = []
    outside: list[ZoneCheck] = []
    for zone in zones:
        if zone.index > highest_idx or (not zone.populated and zone.free_pages == 0):
            continue
        result = zone_watermark_ok(zone, report.order, WatermarkLevel.MIN, highest_idx, flags, era)
        check = ZoneCheck(
            node=zone.node, zone=zone.name, index=zone.index, free_pages=zone.free_pages,
            min_pages=zone.min_pages,
            effective_min_pages=getattr(result, "effective_min_pages", None),
            reserve_pages=getattr(result, "reserve_pages", None),
            usable_free_pages=getattr(result, "usable_free_pages", None),
            passed=bool(result.passed), failed_by=getattr(result, "failed_by", None),
            highest_free_order=zone.highest_free_order(),
        )
        if allowed_nodes is not None and zone.node not in allowed_nodes:
            outside.append(check)
        else:
            checks.append(check)
    if not checks and not outside:
        return Verdict("unknown", "no zone of the Mem-Info block can serve this mode",
                       inferred=False, page_size_kb=page_kb)
    if any(c.passed for c in outside) and not any(c.passed for c in checks):
        nodes = ",".join(str(c.node) for c in outside if c.passed)
        return Verdict("constrained",
                       f"the allowed nodes had no room, but node(s) {nodes} outside "
                       f"{'the nodemask' if report.nodemask not in (None, '(null)') else 'mems_allowed'} "
                       "would have passed", inferred=False, zones=tuple(checks + outside),
                       page_size_kb=page_kb)
    if any(c.passed for c in checks):
        reason = ("at least one zone passes the check with the numbers printed: memory was freed "
                  "between the failure and the Mem-Info dump, or per-CPU counter drift hid it")
        reserved = _reserved_only_zones(meminfo)
        if reserved:
            reason += (f"; note that the free blocks of {', '.join(reserved)} are all on the "
                       "HighAtomic or CMA lists, which this allocation may not be able to use")
        return Verdict("unknown", reason, inferred=False, zones=tuple(checks + outside),
                       page_size_kb=page_kb)
    preferred = max(checks, key=lambda c: (c.index, c.free_pages))
    by_order = [c for c in checks if c.failed_by == "order"]
    if preferred.failed_by == "order" or (by_order and report.order > 0 and len(by_order) == len(checks)):
        target = preferred if preferred.failed_by == "order" else by_order[0]
        return Verdict(
            "fragmented",
            f"{target.zone} had {target.free_pages * page_kb} kB free, above its reduced min, but "
            f"no free block of order {report.order} ({page_kb << report.order} kB) or larger "
            f"(largest free order: {target.highest_free_order})",
            inferred=False, zones=tuple(checks + outside), page_size_kb=page_kb)
    effective = preferred.effective_min_pages
    reserve = preferred.reserve_pages or 0
    if preferred.free_pages < (1 << report.order):
        return Verdict(
            "reserve-exhausted",
            f"{preferred.zone} had only {preferred.free_pages * page_kb} kB free, less than the "
            f"{page_kb << report.order} kB block requested; every other allowed zone failed too",
            inferred=False, zones=tuple(checks + outside), page_size_kb=page_kb)
    mark = f"{(effective + reserve) * page_kb} kB" if effective is not None else "its min watermark"
    return Verdict(
        "reserve-exhausted",
        f"{preferred.zone} had {preferred.free_pages * page_kb} kB free, not above the "
        f"{mark} this mode must clear (min reduced for {decoding.names or report.gfp_mask_text}"
        f"{' plus lowmem_reserve' if reserve else ''}); every other allowed zone failed too",
        inferred=False, zones=tuple(checks + outside), page_size_kb=page_kb)


def _reserved_only_zones(meminfo: MemInfoBlock) -> list[str]:
    """Zones whose non-empty free lists are all HighAtomic (H) or CMA (C), per the letters."""
    names = []
    for line in meminfo.buddy:
        marks = "".join(line.migratetypes)
        if marks and set(marks) <= {"H", "C"}:
            names.append(line.zone if line.node is None else f"node {line.node} {line.zone}")
    return names


def _allowed_nodes(report: FailureReport) -> set[int] | None:
    text = report.nodemask if report.nodemask not in (None, "(null)") else report.mems_allowed
    if not text:
        return None
    nodes: set[int] = set()
    for part in text.split(","):
        if "-" in part:
            low, _, high = part.partition("-")
            if low.isdigit() and high.isdigit() and int(high) - int(low) < 4096:
                nodes.update(range(int(low), int(high) + 1))
        elif part.isdigit():
            nodes.add(int(part))
    return nodes or None


# -- advice ------------------------------------------------------------------------------------
def advise(report: FailureReport, decoding: GfpDecoding | None, context: Context,
           verdict: Verdict) -> str:
    """One or two plain sentences on what to do."""
    atomic = decoding is not None and not decoding.can_sleep
    order = report.order or 0
    if verdict.kind == "constrained":
        return ("The cpuset or nodemask kept this allocation off nodes that had free memory: "
                "widen mems_allowed or spread the workload's memory over the nodes.")
    if verdict.zones and all(z.zone == "DMA" for z in verdict.zones):
        text = ("Only the small DMA zone can serve this mode, so a larger vm.min_free_kbytes does "
                "not help: the request itself must shrink")
        if context.kind == "dma-coherent":
            text += " (for the boot-time DMA atomic pool, the coherent_pool= boot parameter)"
        return text + "."
    if verdict.kind == "fragmented" or (verdict.kind == "unknown" and order > 0 and verdict.inferred):
        lead = (f"Free memory existed but not in order-{order} blocks" if verdict.kind == "fragmented"
                else f"Order-{order} failures usually mean no free block that large")
        text = (f"{lead}: raise vm.min_free_kbytes "
                "(and vm.watermark_scale_factor) so kswapd and compaction keep larger blocks free")
        if context.kind in ("network-receive", "network-transmit"):
            text += ", or make the driver use order-0 pages (smaller MTU or RX buffer size)."
        elif context.kind == "tcp-accept":
            text += ("; new TCP connections need this block for the socket's slab, so bursts "
                     "of accepts fail first.")
        else:
            text += "; `minfree recommend` sizes the reserve for this host."
        return text
    if atomic or context.interrupt:
        return ("This allocation could not wait for reclaim and the free-page reserve was empty: "
                "raise vm.min_free_kbytes so kswapd starts earlier and atomic allocations keep "
                "a reserve; `minfree recommend` sizes it for this host.")
    return ("This allocation could sleep and still failed after reclaim: the host is short of "
            "memory for its workload (check what holds it) and a larger vm.min_free_kbytes only "
            "helps if reclaim was too late.")


def analyze_report(report: FailureReport) -> AnalyzedReport:
    """Context, decoded mode, verdict and advice for one report."""
    decoding = decode_mode(report)
    context = classify_context(report)
    verdict = judge(report, decoding, context)
    return AnalyzedReport(report=report, gfp=decoding, context=context, verdict=verdict,
                          advice=advise(report, decoding, context, verdict))


# -- grouping and the whole scan ---------------------------------------------------------------
def _when(report: FailureReport) -> str | None:
    return report.timestamp_text


def group_reports(reports: Sequence[AnalyzedReport]) -> tuple[ReportGroup, ...]:
    """Group by (process, order, mode, context), most frequent first."""
    buckets: dict[tuple, list[AnalyzedReport]] = {}
    for item in reports:
        r = item.report
        key = (r.process, r.order, item.mode_text, item.context.kind)
        buckets.setdefault(key, []).append(item)
    groups = []
    for (process, order, mode, context), items in buckets.items():
        verdicts = Counter(i.verdict.kind for i in items).most_common()
        seen = [w for w in (_when(i.report) for i in items) if w]
        groups.append(ReportGroup(
            process=process, order=order, mode=mode, context=context, count=len(items),
            first_seen=seen[0] if seen else None, last_seen=seen[-1] if seen else None,
            verdicts=tuple(verdicts),
            suppressed=sum(i.report.suppressed or 0 for i in items),
            sources=tuple(dict.fromkeys(i.report.source for i in items)),
            advice=items[-1].advice,
        ))
    groups.sort(key=lambda g: -g.count)
    return tuple(groups)


def explain_scan(log_scan: LogScan) -> ScanResult:
    """Explain every report of a log scan and group them: the pure half of a scan.

    ``log_scan`` comes from :func:`minfree.sources.kernel_logs.read_failure_reports`
    (which reads the logs and drops the copies of one report seen in several sources).

        >>> from minfree.model.report import FailureReport, LogScan
        >>> r = FailureReport("kern.log", 1, 1, "asd", 1, 0x20, "0x20")
        >>> result = explain_scan(LogScan(reports=(r,), sources=("kern.log",)))
        >>> result.failures, result.groups[0].process, result.reports[0].verdict.kind
        (1, 'asd', 'unknown')
    """
    analysed = tuple(analyze_report(report) for report in log_scan.reports)
    return ScanResult(
        reports=analysed,
        related=log_scan.related,
        groups=group_reports(analysed),
        sources=log_scan.sources,
        notes=log_scan.notes,
        duplicates_dropped=log_scan.duplicates_dropped,
        related_counts=dict(Counter(e.kind for e in log_scan.related)),
    )
