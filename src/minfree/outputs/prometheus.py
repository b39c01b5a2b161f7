"""Prometheus metrics for memory reserves: a custom collector that reads a fresh snapshot.

node_exporter exposes the raw numbers (``node_buddyinfo_blocks``, ``node_zoneinfo_min_pages``,
both off by default) with no meaning attached. This collector exposes what an operator
alerts on: each zone's free pages against its watermarks and the headroom between them,
free blocks per order with the highest free order and the kernel's fragmentation indices,
reclaim and compaction activity, page allocation failures read from the kernel log (with
the "callbacks suppressed" ones counted), the vm settings that matter, and the findings and
reserve that ``minfree doctor`` would report.

Names follow node_exporter's conventions: ``minfree_`` prefix, the unit in the name
(``_pages``, ``_kbytes`` where the kernel's own unit is kB, ``_seconds``, ``_ratio``) and
``_total`` on counters. Zones are labelled ``{node="0",zone="Normal"}``, orders
``{order="3"}``. Only populated zones are exported: an empty Movable zone has a min
watermark and no pages, which would look like a zone under min.

Every scrape reads ``/proc/zoneinfo``, ``/proc/buddyinfo``, ``/proc/vmstat`` and a few
``/proc/sys/vm`` files again; nothing else (``/proc/pagetypeinfo`` takes the zone lock and
is root-only, so it is never read here). A file that is missing, unreadable or unparsable
removes only its own metrics and increments ``minfree_collector_errors_total{source}``.
The kernel log is read incrementally from ``/dev/kmsg`` (the sequence number is kept between
scrapes). The findings and the recommended reserve come from the doctor's analysis, which
is slower, so it is refreshed in the background at most once a minute and never delays a
scrape.

Tests and ``--textfile`` use the collector without a socket (here on a captured 92 MB
router from the test fixtures):

    >>> import pathlib, minfree
    >>> capture = pathlib.Path(minfree.__file__).parents[2] / "tests/fixtures/roots/zte-router-armv7-4.1.25"
    >>> collector = MinfreeCollector(capture, follow_kmsg=False)
    >>> text = exposition(build_registry(collector)).decode()
    >>> [line for line in text.splitlines() if line.startswith("minfree_zone_free_pages")]
    ['minfree_zone_free_pages{node="0",zone="Normal"} 388.0']
    >>> collector.close()
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily at run time: watch does not need prometheus_client
    from prometheus_client.registry import CollectorRegistry

    from minfree.model.vmstat import VmStat
    from minfree.model.zone import Zone
    from minfree.sources.root import Root

#: Sources whose failures are counted in ``minfree_collector_errors_total{source}``.
#: Every one is exported (0 until it fails) so ``rate()`` works from the first scrape.
SOURCES: tuple[str, ...] = ("zoneinfo", "buddyinfo", "vmstat", "sysctl", "kernel_log", "analysis")

#: The vm settings exported as ``minfree_sysctl{name}``: the reserve and the knobs the
#: kernel's documentation ties to it (landscape §14, kernel-facts §1.3).
SYSCTL_KEYS: tuple[str, ...] = (
    "vm.min_free_kbytes",
    "vm.watermark_scale_factor",
    "vm.watermark_boost_factor",
    "vm.swappiness",
    "vm.vfs_cache_pressure",
    "vm.zone_reclaim_mode",
    "vm.extfrag_threshold",
    "vm.compaction_proactiveness",
    "vm.overcommit_memory",
)

#: Watermark levels in the order the kernel prints them (``promo`` exists from 6.12 on).
LEVELS: tuple[str, ...] = ("min", "low", "high", "promo")

#: ``order`` label values, made once (NR_PAGE_ORDERS is at most 14 in practice).
_ORDER_LABELS: tuple[str, ...] = tuple(str(order) for order in range(16))

#: Label value for failures the kernel rate limit hid ("warn_alloc: N callbacks
#: suppressed"): their order and mask were never printed.
UNKNOWN = "unknown"

#: Default bound on one scrape; sources not read by then are skipped and counted as errors.
DEFAULT_SCRAPE_BUDGET_SECONDS = 2.0
#: How often the doctor's analysis (findings, recommended reserve) is recomputed.
DEFAULT_ANALYSIS_INTERVAL_SECONDS = 60.0


# --------------------------------------------------------------------------------------
# Error accounting
# --------------------------------------------------------------------------------------
_log = logging.getLogger("minfree.exporter")


class ErrorCounts:
    """Thread-safe per-source error counters (cumulative since the collector started).

    Each new reason is also logged once (logger ``minfree.exporter``, which the exporter
    command sends to stderr, i.e. the journal); a source failing the same way at every
    scrape does not flood the log.
    """

    def __init__(self, sources: Iterable[str] = SOURCES) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = dict.fromkeys(sources, 0)
        #: the last error message per source, for logs and ``minfree watch``
        self.last_message: dict[str, str] = {}

    def add(self, source: str, message: str = "") -> None:
        with self._lock:
            self._counts[source] = self._counts.get(source, 0) + 1
            changed = bool(message) and self.last_message.get(source) != message
            if message:
                self.last_message[source] = message
        if changed:
            _log.warning("cannot read %s: %s (its metrics are left out until it can)", source, message)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


# --------------------------------------------------------------------------------------
# One reading of the host's memory state
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReclaimTotals:
    """Cumulative reclaim and compaction counters from /proc/vmstat (None: not printed).

    Summed over zones where the kernel keeps per-zone counters (``allocstall_<zone>`` from
    4.8/4.9, ``pgscan_kswapd_<zone>`` before 4.8; kernel-facts §6.3).
    """

    scanned_kswapd_pages: int | None = None
    scanned_direct_pages: int | None = None
    stolen_kswapd_pages: int | None = None
    stolen_direct_pages: int | None = None
    allocation_stalls: int | None = None
    compaction_stalls: int | None = None
    compaction_failures: int | None = None
    kswapd_low_wmark_hit_quickly: int | None = None


@dataclass(frozen=True)
class MemorySample:
    """Zones, reclaim counters and vm settings read at one moment (``monotonic_seconds``)."""

    monotonic_seconds: float
    zones: tuple[Zone, ...] = ()
    reclaim: ReclaimTotals | None = None
    sysctl: Mapping[str, int] = field(default_factory=dict)
    #: the reclaim and compaction counters as parsed (for rates between two samples)
    vmstat: VmStat | None = None
    #: sources that failed at this reading, with the reason
    failed: Mapping[str, str] = field(default_factory=dict)


def _sum_present(values: Iterable[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def reclaim_totals(vmstat: VmStat) -> ReclaimTotals:
    """Era-neutral totals from a parsed /proc/vmstat (the folding is the VmStat model's).

    >>> from minfree.parsers.vmstat import parse_vmstat
    >>> t = reclaim_totals(parse_vmstat("pgscan_kswapd 10\\nallocstall_normal 2\\n"
    ...                                 "allocstall_dma32 1\\ncompact_stall 4\\n"))
    >>> t.allocation_stalls, t.scanned_kswapd_pages, t.compaction_stalls, t.compaction_failures
    (3, 10, 4, None)
    """
    return ReclaimTotals(
        scanned_kswapd_pages=vmstat.pgscan_kswapd_total,
        scanned_direct_pages=vmstat.pgscan_direct_total,
        stolen_kswapd_pages=vmstat.pgsteal_kswapd_total,
        stolen_direct_pages=vmstat.pgsteal_direct_total,
        allocation_stalls=vmstat.allocstall_total,
        compaction_stalls=vmstat.compact_stall,
        compaction_failures=vmstat.compact_fail,
        kswapd_low_wmark_hit_quickly=vmstat.kswapd_low_wmark_hit_quickly,
    )


#: The /proc/zoneinfo lines the metrics need: zone headers, free pages, watermarks, sizes
#: and the protection row. On a 64-CPU host the per-cpu ``pagesets`` and the per-node and
#: per-zone counters are over 90 % of the file; handing the parser only these lines makes
#: it several times faster, and gives the same zones (checked on every fixture by the tests).
#: The pageset lines ``high:``/``count:`` carry a colon, so ``high`` here cannot match them.
_ZONEINFO_NEEDED = re.compile(
    r"^(?:Node .*|\s*(?:pages free|boost|min|low|high|promo|spanned|present|managed|cma)\s+\d+\s*"
    r"|\s*protection: .*)$",
    re.MULTILINE | re.ASCII,
)
#: The /proc/vmstat counters behind :class:`ReclaimTotals` (every era's names).
_VMSTAT_NEEDED = re.compile(
    r"^(?:pgscan_|pgsteal_|kswapd_steal|allocstall|compact_stall|compact_fail|kswapd_low_wmark)\S*\s+\d+\s*$",
    re.MULTILINE | re.ASCII,
)


def needed_zoneinfo_lines(text: str) -> str:
    """Only the lines of /proc/zoneinfo that :func:`read_memory_sample` uses."""
    return "\n".join(_ZONEINFO_NEEDED.findall(text)) + "\n"


def needed_vmstat_lines(text: str) -> str:
    """Only the reclaim and compaction counters of /proc/vmstat."""
    return "\n".join(_VMSTAT_NEEDED.findall(text)) + "\n"


class _Deadline:
    """A scrape's time budget: sources after it are skipped and counted as errors."""

    def __init__(self, budget_seconds: float | None, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._end = None if budget_seconds is None else clock() + budget_seconds

    def expired(self) -> bool:
        return self._end is not None and self._clock() > self._end


def _read(root: Root, rel: str) -> tuple[str | None, str]:
    """Text of ``rel`` and, when it could not be read, why (from the root's record)."""
    text = root.read_text(rel)
    if text is not None:
        return text, ""
    reason = next((m.reason for m in reversed(root.missing) if m.path == rel), "unreadable")
    return None, f"{rel}: {reason}"


def read_sysctl(root: Root, keys: Iterable[str] = SYSCTL_KEYS) -> tuple[dict[str, int], str]:
    """Integer vm settings from ``proc/sys``; a key the kernel lacks is simply absent.

    Returns the values and an error message ('' when fine). It is an error only when not a
    single key could be read (no /proc/sys at all, or no permission), since old kernels
    lack some knobs (watermark_scale_factor appeared in 4.6).
    """
    values: dict[str, int] = {}
    for key in keys:
        text = root.read_text("proc/sys/" + key.replace(".", "/"))
        if text is None:
            continue
        token = text.strip()
        # lstrip("-"): vm.extfrag_threshold and friends are never negative, but a
        # captured file may hold any integer; anything else is skipped.
        if token.lstrip("-").isdigit():
            values[key] = int(token)
    if not values:
        return values, "proc/sys/vm: no vm setting readable"
    return values, ""


def read_memory_sample(
    root: Root,
    *,
    budget_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    include_sysctl: bool = True,
) -> MemorySample:
    """Read zones (zoneinfo + buddyinfo), reclaim counters and vm settings from ``root``.

    Never raises for a bad or missing file: the source is listed in ``failed`` and what it
    would have provided is left out. Only the files needed are read and parsed (no
    pagetypeinfo, no meminfo), which keeps a scrape in the low milliseconds.
    """
    from minfree.errors import MinfreeError
    from minfree.parsers.buddyinfo import parse_buddyinfo
    from minfree.parsers.zoneinfo import parse_zoneinfo

    deadline = _Deadline(budget_seconds, clock)
    started = clock()
    failed: dict[str, str] = {}
    zones: tuple[Zone, ...] = ()
    reclaim: ReclaimTotals | None = None
    vmstat: VmStat | None = None
    sysctl: dict[str, int] = {}

    zoneinfo = None
    text, why = _read(root, "proc/zoneinfo")
    if text is None:
        failed["zoneinfo"] = why
    else:
        try:
            zoneinfo = parse_zoneinfo(needed_zoneinfo_lines(text), source="proc/zoneinfo")
        except MinfreeError as error:
            failed["zoneinfo"] = str(error)

    buddyinfo = None
    if deadline.expired():
        failed["buddyinfo"] = "skipped: scrape time budget exceeded"
    else:
        text, why = _read(root, "proc/buddyinfo")
        if text is None:
            failed["buddyinfo"] = why
        else:
            try:
                buddyinfo = parse_buddyinfo(text, source="proc/buddyinfo")
            except MinfreeError as error:
                failed["buddyinfo"] = str(error)
    if zoneinfo is not None:
        zones = tuple(z for z in zoneinfo.to_zones(buddyinfo) if z.populated)

    if deadline.expired():
        failed["vmstat"] = "skipped: scrape time budget exceeded"
    else:
        text, why = _read(root, "proc/vmstat")
        if text is None:
            failed["vmstat"] = why
        else:
            try:
                vmstat = _parse_needed_vmstat(text)
                reclaim = reclaim_totals(vmstat)
            except MinfreeError as error:
                failed["vmstat"] = str(error)

    if not include_sysctl:
        pass
    elif deadline.expired():
        failed["sysctl"] = "skipped: scrape time budget exceeded"
    else:
        sysctl, why = read_sysctl(root)
        if why:
            fallback = _sysctl_from_capture(root)
            if fallback:
                sysctl = fallback
            else:
                failed["sysctl"] = why
    return MemorySample(
        monotonic_seconds=started, zones=zones, reclaim=reclaim, sysctl=sysctl, failed=failed,
        vmstat=vmstat,
    )


def _parse_needed_vmstat(text: str) -> VmStat:
    from minfree.parsers.vmstat import parse_vmstat

    needed = needed_vmstat_lines(text)
    if not needed.strip():
        # Not one reclaim counter: let the parser judge the whole text (empty file,
        # garbage) so the error names the problem; a valid but tiny vmstat of an old
        # kernel simply yields unknown totals.
        return parse_vmstat(text, source="proc/vmstat")
    return parse_vmstat(needed, source="proc/vmstat")


def _sysctl_from_capture(root: Root) -> dict[str, int]:
    """vm settings from a sosreport's ``sysctl -a`` output when there is no proc/sys."""
    if root.is_live:
        return {}
    text = root.read_text("sos_commands/kernel/sysctl_-a")
    if text is None:
        return {}
    from minfree.errors import MinfreeError
    from minfree.parsers.sysctl import parse_sysctl_a

    try:
        parsed = parse_sysctl_a(text, source="sos_commands/kernel/sysctl_-a")
    except MinfreeError:
        return {}
    values: dict[str, int] = {}
    for key in SYSCTL_KEYS:
        raw = parsed.values.get(key)
        if raw is not None and str(raw).strip().lstrip("-").isdigit():
            values[key] = int(str(raw).strip())
    return values


# --------------------------------------------------------------------------------------
# Page allocation failures from the kernel log
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FailureEvent:
    """One failure report seen in the log, reduced to what the metrics and watch show."""

    order: str
    context: str
    gfp: str
    process: str | None = None
    verdict: str | None = None
    #: failures the rate limit hid just before this report ("N callbacks suppressed")
    suppressed: int = 0
    #: wall-clock time of the report (seconds since the epoch) when it can be known
    timestamp_seconds: float | None = None
    summary: str = ""


class KmsgReader:
    """Follows ``/dev/kmsg`` without blocking, keeping its place between calls.

    The device hands out one record per read and the open file remembers the position, so
    keeping the descriptor open between scrapes makes every call return only the records
    logged since the last one (the first call returns what the ring buffer still holds).
    The record reading itself is the log sources' (:mod:`minfree.sources.logs`), the same
    the scan uses; lines come back in dmesg form, ``[seconds.micro] message``.
    """

    _STAMP = re.compile(r"^\[\s*(\d+)\.(\d{6})\]")

    def __init__(self, path: str = "/dev/kmsg") -> None:
        self.path = path
        self._fd: int | None = None
        #: time stamp of the newest record, seconds since boot (the kernel's clock)
        self.last_record_seconds: float | None = None
        self._lock = threading.Lock()

    def read_new(self) -> list[str]:
        """Lines logged since the last call (raises OSError/SourceError when unreadable)."""
        from minfree.sources.logs import _kmsg_records

        with self._lock:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            lines: list[str] = []
            for chunk in _kmsg_records(self._fd):
                lines.extend(chunk.decode("utf-8", errors="replace").splitlines())
            if lines:
                stamp = self._STAMP.match(lines[-1])
                if stamp:
                    self.last_record_seconds = int(stamp.group(1)) + int(stamp.group(2)) / 1e6
            return lines

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class FailureLog:
    """Failure counts by (order, context, gfp), kept up to date from the kernel log.

    On the live host it follows ``/dev/kmsg`` (records since boot that are still in the ring
    buffer, then each new one) through one incremental kernel-log parser, so a report split
    across two scrapes is still read whole; a report still open when the log goes quiet is
    closed after ``settle_seconds`` (the kernel prints one in milliseconds). For a captured
    root it reads the root's kernel logs once.
    """

    def __init__(
        self,
        root: Root,
        *,
        follow_kmsg: bool = True,
        kmsg_path: str = "/dev/kmsg",
        settle_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = root
        self.follow_kmsg = follow_kmsg and root.is_live
        self.counts: dict[tuple[str, str, str], int] = {}
        self.last_seen_seconds: float | None = None
        self.events: list[FailureEvent] = []
        #: False while the log cannot be read: the failure metrics are left out
        self.ok = False
        self._reader = KmsgReader(kmsg_path) if self.follow_kmsg else None
        self._parser: Any = None
        self._line_no = 0
        self._last_line_at: float | None = None
        self._settle = settle_seconds
        self._clock = clock
        self._static_done = False
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """False on the live host with --no-kmsg: nothing is read, nothing exported."""
        return self.follow_kmsg or not self.root.is_live

    def poll(self) -> list[FailureEvent]:
        """Read what is new; returns the failures completed since the last call.

        Raises OSError/MinfreeError when the log cannot be read or parsed; the counts keep
        their previous values.
        """
        with self._lock:
            if not self.enabled:
                return []
            self.ok = False
            if self._reader is None:
                if self._static_done:
                    self.ok = True
                    return []
                # Not marked done on failure: a missing log counts as an error at every
                # scrape, like any other missing source.
                new = _failures_from_root_logs(self.root)
                self._static_done = True
            else:
                new = self._consume(self._reader.read_new())
            self.ok = True
            for event in new:
                self._count(event)
            return new

    def _count(self, event: FailureEvent) -> None:
        key = (event.order, event.context, event.gfp)
        self.counts[key] = self.counts.get(key, 0) + 1
        if event.suppressed:
            hidden = (UNKNOWN, UNKNOWN, UNKNOWN)
            self.counts[hidden] = self.counts.get(hidden, 0) + event.suppressed
        if event.timestamp_seconds is not None:
            self.last_seen_seconds = max(self.last_seen_seconds or 0.0, event.timestamp_seconds)
        self.events.append(event)
        del self.events[:-100]  # watch shows the latest few; keep memory bounded

    def _consume(self, lines: list[str]) -> list[FailureEvent]:
        from minfree.parsers.kernel_log import KernelLogParser

        if self._parser is None:
            self._parser = KernelLogParser("/dev/kmsg")
        parser = self._parser
        now = self._clock()
        for line in lines:
            self._line_no += 1
            parser.feed(self._line_no, line)
        if lines:
            self._last_line_at = now
        items = parser.drain()
        if not parser.idle and self._quiet_for(now) >= self._settle:
            items += parser.finish()
        return [event for item in items if (event := failure_event(item, kmsg=True)) is not None]

    def _quiet_for(self, now: float) -> float:
        """Seconds since the newest line was logged (by the kernel's time stamp when the
        reader knows it, so a report read whole at one scrape is counted at that scrape)."""
        logged = getattr(self._reader, "last_record_seconds", None)
        if logged is not None:
            return time.clock_gettime(time.CLOCK_MONOTONIC) - logged
        return now - self._last_line_at if self._last_line_at is not None else 0.0

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


def _kmsg_wall_clock(uptime_seconds: float | None) -> float | None:
    """Wall-clock time of a /dev/kmsg time stamp (seconds since boot, ~CLOCK_MONOTONIC)."""
    if uptime_seconds is None:
        return None
    return time.time() - (time.clock_gettime(time.CLOCK_MONOTONIC) - uptime_seconds)


def failure_event(item: Any, *, kmsg: bool = False, analysed: Any = None) -> FailureEvent | None:
    """A :class:`FailureEvent` from a parsed report; None for related events (OOM etc.).

    The context (what the kernel was doing: ``network-receive``, ``tcp-accept`` ...) and
    the verdict (``reserve-exhausted``, ``fragmented`` ...) come from the failure-report
    analysis, the same one ``minfree scan`` prints. ``gfp`` is the mask's names as the
    kernel printed them (4.5+), else as decoded for the report's kernel era, else the hex
    mask: a bounded set of label values.
    """
    from minfree.analysis.failure_report import analyze_report
    from minfree.model.report import FailureReport

    if analysed is None:
        if not isinstance(item, FailureReport):
            return None
        analysed = analyze_report(item)
    report = analysed.report
    if report.gfp_names_printed:
        gfp = report.gfp_names_printed
    elif analysed.gfp is not None and analysed.gfp.names:
        gfp = analysed.gfp.names
    elif report.gfp_mask_text:
        gfp = report.gfp_mask_text
    else:
        gfp = UNKNOWN
    timestamp: float | None = None
    if kmsg:
        timestamp = _kmsg_wall_clock(report.uptime_seconds)
    elif report.timestamp is not None and report.timestamp.tzinfo is not None:
        timestamp = report.timestamp.timestamp()
    return FailureEvent(
        order=UNKNOWN if report.order is None else str(report.order),
        context=analysed.context.kind,
        gfp=gfp,
        process=report.process,
        verdict=analysed.verdict.kind,
        suppressed=report.suppressed or 0,
        timestamp_seconds=timestamp,
        summary=analysed.verdict.reason,
    )


def _failures_from_root_logs(root: Root) -> list[FailureEvent]:
    """Every failure in a captured root's kernel logs (kern.log, dmesg, journal exports).

    The scan drops the copies of one report found in several logs (dmesg and kern.log).
    """
    from minfree.analysis.failure_report import explain_scan
    from minfree.errors import SourceError
    from minfree.sources.kernel_logs import read_failure_reports

    result = explain_scan(read_failure_reports([root]))
    if not result.sources:
        raise SourceError(f"{root.label}: no kernel log files found")
    events = [failure_event(None, analysed=a) for a in result.reports]
    return [e for e in events if e is not None]


# --------------------------------------------------------------------------------------
# Findings and the recommended reserve (slow: refreshed in the background)
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnalysisResult:
    """What the doctor concluded at one time: active findings and the reserve it suggests."""

    findings: tuple[tuple[str, str], ...] = ()
    recommended_min_free_kbytes: int | None = None


def analyse(root: Root, *, vmstat_interval_seconds: float = 0.0) -> AnalysisResult:
    """The doctor's findings and recommended ``vm.min_free_kbytes`` for ``root``.

    Exactly what ``minfree doctor`` computes (same diagnosis, rules and recommender). The
    recommended reserve is the doctor's ``vm.min_free_kbytes`` recommendation when it makes
    one, else the size its rules settle on (which then does not exceed today's value).
    ``vmstat_interval_seconds`` > 0 takes a second /proc/vmstat sample that far apart on the
    live host, so the findings about kswapd falling behind can use rates (the background
    thread can afford the wait; a one-shot textfile run passes 0).
    """
    from minfree.analysis.findings import evaluate
    from minfree.outputs.doctor_json import diagnose_root
    from minfree.recommend import recommend

    diagnosis = diagnose_root(root, interval_s=vmstat_interval_seconds)
    findings = evaluate(diagnosis)
    result = recommend(diagnosis, findings)
    # As `minfree apply --min-free-kbytes recommended` reads it: the recommended change, or
    # today's value when the rules ask for nothing more (so the alert compares like with like).
    recommended = next(
        (int(r.recommended) for r in result.recommendations if r.sysctl == "vm.min_free_kbytes"),
        None,
    )
    if recommended is None and result.chosen_kb is not None:
        recommended = diagnosis.sysctl_int("vm.min_free_kbytes")
    return AnalysisResult(
        findings=tuple((f.key, f.severity) for f in findings),
        recommended_min_free_kbytes=recommended,
    )


class AnalysisCache:
    """The latest :class:`AnalysisResult`, recomputed at most every ``interval_seconds``.

    With ``background=True`` (the HTTP exporter) the work runs in a daemon thread and a
    scrape only reads the last result, so a slow analysis never delays a scrape; with
    ``background=False`` (textfile, tests) it runs inline on first use.
    """

    def __init__(
        self,
        root: Root,
        errors: ErrorCounts,
        *,
        background: bool,
        interval_seconds: float = DEFAULT_ANALYSIS_INTERVAL_SECONDS,
        analyse_fn: Callable[[Root], AnalysisResult] | None = None,
    ) -> None:
        self.root = root
        self.errors = errors
        self.background = background
        self.interval = interval_seconds
        self._analyse = analyse_fn or analyse
        self.result: AnalysisResult | None = None
        self._computed_at: float | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def _run_once(self) -> None:
        try:
            result = self._analyse(self.root)
        except Exception as error:  # any failure of the analysis must not break a scrape
            self.errors.add("analysis", f"{type(error).__name__}: {error}")
            result = None
        with self._lock:
            if result is not None:
                self.result = result
            self._computed_at = time.monotonic()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._run_once()
            self._stop.wait(self.interval)

    def current(self) -> AnalysisResult | None:
        """The latest result (None until the first analysis finished)."""
        if self.background:
            if self._thread is None:
                with self._lock:
                    if self._thread is None:
                        self._thread = threading.Thread(
                            target=self._loop, name="minfree-analysis", daemon=True
                        )
                        self._thread.start()
        elif self._computed_at is None or time.monotonic() - self._computed_at > self.interval:
            self._run_once()
        with self._lock:
            return self.result

    def close(self) -> None:
        self._stop.set()


# --------------------------------------------------------------------------------------
# The collector
# --------------------------------------------------------------------------------------
class MinfreeCollector:
    """A prometheus-client collector: each ``collect()`` reads the host afresh.

    ``root`` is a path (None or "/" for this host, a captured directory or a bundle) or an
    open :class:`~minfree.sources.root.Root`. Register it on an explicit
    ``CollectorRegistry`` (see :func:`build_registry`), never on the global one.
    """

    def __init__(
        self,
        root: Root | str | os.PathLike[str] | None = None,
        *,
        follow_kmsg: bool = True,
        kmsg_path: str = "/dev/kmsg",
        scrape_budget_seconds: float | None = DEFAULT_SCRAPE_BUDGET_SECONDS,
        analysis_in_background: bool = False,
        analysis_interval_seconds: float = DEFAULT_ANALYSIS_INTERVAL_SECONDS,
        analyse_fn: Callable[[Root], AnalysisResult] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from minfree.sources.root import Root, open_root

        self.root: Root = root if isinstance(root, Root) else open_root(root)
        self.errors = ErrorCounts()
        self.failures = FailureLog(self.root, follow_kmsg=follow_kmsg, kmsg_path=kmsg_path)
        if analyse_fn is None:
            interval = 3.0 if analysis_in_background and self.root.is_live else 0.0
            analyse_fn = functools.partial(analyse, vmstat_interval_seconds=interval)
        self.analysis = AnalysisCache(
            self.root,
            self.errors,
            background=analysis_in_background,
            interval_seconds=analysis_interval_seconds,
            analyse_fn=analyse_fn,
        )
        self.scrape_budget_seconds = scrape_budget_seconds
        self._clock = clock

    def describe(self) -> list[Any]:
        # An empty describe() keeps register() from running a scrape to learn the names.
        return []

    def sample(self) -> MemorySample:
        """Read the memory state now, counting failed sources."""
        sample = read_memory_sample(
            self.root, budget_seconds=self.scrape_budget_seconds, clock=self._clock
        )
        for source, why in sample.failed.items():
            self.errors.add(source, why)
        return sample

    def poll_failures(self) -> list[FailureEvent]:
        """New failures from the kernel log (errors counted under ``kernel_log``)."""
        from minfree.errors import MinfreeError

        try:
            return self.failures.poll()
        except (OSError, MinfreeError, NotImplementedError, ValueError) as error:
            self.errors.add("kernel_log", f"{type(error).__name__}: {error}")
            return []

    def collect(self) -> Iterator[Any]:
        started = self._clock()
        sample = self.sample()
        self.poll_failures()
        analysis = self.analysis.current()
        yield from zone_families(sample.zones)
        if sample.reclaim is not None:
            yield from reclaim_families(sample.reclaim)
        yield from sysctl_families(sample.sysctl)
        if self.failures.enabled and self.failures.ok:
            yield from failure_families(self.failures.counts, self.failures.last_seen_seconds)
        if analysis is not None:
            yield from analysis_families(analysis)
        yield from error_families(self.errors.snapshot(), self._clock() - started)

    def close(self) -> None:
        """Release /dev/kmsg and stop the background analysis."""
        self.failures.close()
        self.analysis.close()


# --------------------------------------------------------------------------------------
# Metric families (pure functions of the data: easy to test, cheap to build)
# --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _indices(free_blocks: tuple[int, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Unusable free space and fragmentation indices (as ratios) for every order.

    Memoised on the free lists: zones that do not change between scrapes (DMA, an idle
    DMA32, every zone of a captured root) cost nothing after the first scrape.
    """
    from minfree.kernel import fragmentation

    orders = range(len(free_blocks))
    return (
        tuple(fragmentation.unusable_free_index(free_blocks, o) / 1000 for o in orders),
        tuple(fragmentation.fragmentation_index(free_blocks, o) / 1000 for o in orders),
    )


def zone_families(zones: Iterable[Zone]) -> Iterator[Any]:
    """Per-zone gauges: free pages, watermarks, headroom, managed pages, free lists."""
    from prometheus_client.core import GaugeMetricFamily

    zone_labels = ["node", "zone"]
    free = GaugeMetricFamily(
        "minfree_zone_free_pages", "Free pages in the zone (/proc/zoneinfo 'pages free').", labels=zone_labels
    )
    watermark = GaugeMetricFamily(
        "minfree_zone_watermark_pages",
        "Zone watermark in pages, boost included, as the kernel prints it (level min, low, high; promo on 6.12+).",
        labels=[*zone_labels, "level"],
    )
    headroom = GaugeMetricFamily(
        "minfree_zone_headroom_pages",
        "Free pages above the watermark (negative: under it). Under min, atomic allocations fail next.",
        labels=[*zone_labels, "level"],
    )
    managed = GaugeMetricFamily(
        "minfree_zone_managed_pages", "Pages managed by the buddy allocator in the zone.", labels=zone_labels
    )
    blocks = GaugeMetricFamily(
        "minfree_zone_free_blocks",
        "Free blocks of 2^order pages in the zone (/proc/buddyinfo; blocks, not pages).",
        labels=[*zone_labels, "order"],
    )
    highest = GaugeMetricFamily(
        "minfree_zone_highest_free_order",
        "Highest order with at least one free block in the zone (-1: no free block).",
        labels=zone_labels,
    )
    unusable = GaugeMetricFamily(
        "minfree_zone_unusable_free_ratio",
        "Share of free memory in blocks smaller than 2^order pages: the kernel's unusable free space index (0 to 1).",
        labels=[*zone_labels, "order"],
    )
    extfrag = GaugeMetricFamily(
        "minfree_zone_fragmentation_index",
        "The kernel's fragmentation index for the order: near 0 a failure would be lack of memory, near 1 fragmentation; -1 when a free block of the order exists.",
        labels=[*zone_labels, "order"],
    )
    for zone in zones:
        node, name = str(zone.node), zone.name
        free.add_metric([node, name], zone.free_pages)
        for level in LEVELS:
            mark = zone.watermark_pages(level)
            if mark is None:
                continue
            watermark.add_metric([node, name, level], mark)
            headroom.add_metric([node, name, level], zone.free_pages - mark)
        if zone.managed_pages is not None:
            managed.add_metric([node, name], zone.managed_pages)
        counts = zone.free_blocks
        if counts is None:
            continue
        unusable_ratios, extfrag_ratios = _indices(tuple(counts))
        for order, count in enumerate(counts):
            labels = [node, name, _ORDER_LABELS[order] if order < len(_ORDER_LABELS) else str(order)]
            blocks.add_metric(labels, count)
            unusable.add_metric(labels, unusable_ratios[order])
            extfrag.add_metric(labels, extfrag_ratios[order])
        top = zone.highest_free_order()
        highest.add_metric([node, name], -1 if top is None else top)
    yield from (free, watermark, headroom, managed, blocks, highest, unusable, extfrag)


def reclaim_families(reclaim: ReclaimTotals) -> Iterator[Any]:
    """Reclaim and compaction counters (cumulative since boot)."""
    from prometheus_client.core import CounterMetricFamily

    scanned = CounterMetricFamily(
        "minfree_reclaim_scanned_pages",
        "Pages scanned by reclaim since boot, by kswapd (background) or direct (by the allocating task).",
        labels=["mode"],
    )
    stolen = CounterMetricFamily(
        "minfree_reclaim_stolen_pages",
        "Pages reclaimed since boot, by kswapd or direct reclaim.",
        labels=["mode"],
    )
    for family, kswapd, direct in (
        (scanned, reclaim.scanned_kswapd_pages, reclaim.scanned_direct_pages),
        (stolen, reclaim.stolen_kswapd_pages, reclaim.stolen_direct_pages),
    ):
        if kswapd is not None:
            family.add_metric(["kswapd"], kswapd)
        if direct is not None:
            family.add_metric(["direct"], direct)
        if family.samples:
            yield family
    for name, value, text in (
        ("minfree_allocation_stalls", reclaim.allocation_stalls,
         "Allocations that entered direct reclaim since boot (vmstat allocstall, summed over zones)."),
        ("minfree_compaction_stalls", reclaim.compaction_stalls,
         "Allocations that entered direct compaction since boot (vmstat compact_stall)."),
        ("minfree_compaction_failures", reclaim.compaction_failures,
         "Direct compactions that failed to produce a free block since boot (vmstat compact_fail)."),
        ("minfree_kswapd_low_wmark_hit_quickly", reclaim.kswapd_low_wmark_hit_quickly,
         "Times kswapd went to sleep and free memory fell under the low watermark again quickly: the watermark gap is too small."),
    ):
        if value is not None:
            yield CounterMetricFamily(name, text, value=value)


def sysctl_families(values: Mapping[str, int]) -> Iterator[Any]:
    """``minfree_sysctl{name}`` for the vm settings that matter (as read this scrape)."""
    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily(
        "minfree_sysctl", "Current value of a vm setting (kernel units: vm.min_free_kbytes in kB).", labels=["name"]
    )
    for key in SYSCTL_KEYS:
        if key in values:
            family.add_metric([key], values[key])
    yield family


def failure_families(
    counts: Mapping[tuple[str, str, str], int], last_seen_seconds: float | None
) -> Iterator[Any]:
    """Page allocation failures from the kernel log."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    family = CounterMetricFamily(
        "minfree_page_allocation_failures",
        "Page allocation failures reported in the kernel log, by order, context (what the kernel was doing: "
        "network-receive, tcp-accept, block-filesystem ...) and GFP mask. "
        "Failures hidden by the kernel's rate limit ('callbacks suppressed') are counted with the labels unknown.",
        labels=["order", "context", "gfp"],
    )
    for (order, context, gfp), value in sorted(counts.items()):
        family.add_metric([order, context, gfp], value)
    yield family
    if last_seen_seconds is not None:
        yield GaugeMetricFamily(
            "minfree_page_allocation_failure_last_seen_timestamp_seconds",
            "Time of the most recent page allocation failure in the kernel log (seconds since the epoch).",
            value=last_seen_seconds,
        )


def analysis_families(result: AnalysisResult) -> Iterator[Any]:
    """The doctor's findings (1 per active finding) and its recommended reserve."""
    from prometheus_client.core import GaugeMetricFamily

    findings = GaugeMetricFamily(
        "minfree_finding",
        "A finding of minfree doctor that holds for this host (always 1; key and severity in labels).",
        labels=["key", "severity"],
    )
    for key, severity in sorted(set(result.findings)):
        findings.add_metric([key, severity], 1)
    yield findings
    if result.recommended_min_free_kbytes is not None:
        yield GaugeMetricFamily(
            "minfree_recommended_min_free_kbytes",
            "vm.min_free_kbytes that minfree recommends for this host (kB, the kernel's unit).",
            value=result.recommended_min_free_kbytes,
        )


def error_families(errors: Mapping[str, int], duration_seconds: float) -> Iterator[Any]:
    """Collector health: errors per source and the time this scrape took."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    family = CounterMetricFamily(
        "minfree_collector_errors",
        "Scrapes at which a source could not be read or parsed (its metrics were left out).",
        labels=["source"],
    )
    for source, value in sorted(errors.items()):
        family.add_metric([source], value)
    yield family
    yield GaugeMetricFamily(
        "minfree_collector_duration_seconds",
        "Time spent reading and computing the metrics of this scrape.",
        value=duration_seconds,
    )


# --------------------------------------------------------------------------------------
# Registry, exposition and the textfile
# --------------------------------------------------------------------------------------
def build_registry(collector: MinfreeCollector) -> CollectorRegistry:
    """A fresh registry holding only ``collector`` (never the process-global one)."""
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The text exposition format (version 0.0.4) of everything in ``registry``.

    Byte for byte what ``prometheus_client.generate_latest`` writes (the tests compare
    them), in about a third of the time: our families hold only plain gauge and counter
    samples, so the generic paths for OpenMetrics suffixes, timestamps and UTF-8 metric
    names are not needed. Anything else falls back to ``generate_latest``.
    """
    from prometheus_client import generate_latest
    from prometheus_client.utils import floatToGoString

    out: list[str] = []
    append = out.append
    for metric in registry.collect():
        kind = metric.type
        if kind == "counter":
            name = metric.name + "_total"
        elif kind in ("gauge", "untyped"):
            name = metric.name
        else:
            return generate_latest(registry)
        help_text = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
        append(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")
        for sample in metric.samples:
            if sample.timestamp is not None or sample.name != name:
                return generate_latest(registry)
            labels = sample.labels
            if labels:
                key = (name, *labels.items())
                prefix = _LINE_PREFIXES.get(key)
                if prefix is None:
                    pairs = ",".join(
                        [f'{k}="{_escape_label_value(v)}"' for k, v in sorted(labels.items())]
                    )
                    prefix = f"{name}{{{pairs}}} "
                    if len(_LINE_PREFIXES) < _LINE_PREFIX_LIMIT:
                        _LINE_PREFIXES[key] = prefix
                append(prefix + floatToGoString(sample.value) + "\n")
            else:
                append(f"{name} {floatToGoString(sample.value)}\n")
    return "".join(out).encode("utf-8")


#: ``name{labels} `` text per (name, label pairs): the same few hundred series come back at
#: every scrape, so sorting and escaping their labels once is enough. Bounded, in case
#: label values ever vary without end.
_LINE_PREFIXES: dict[tuple[Any, ...], str] = {}
_LINE_PREFIX_LIMIT = 20000


def _escape_label_value(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')
    return value


def write_textfile(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, for node_exporter's textfile collector.

    The write is :func:`minfree.apply.safe_write.atomic_write` (temporary file in the same
    folder, fsync, rename, fsync of the folder): node_exporter never reads half a file, and
    a crash leaves the old file or the new one. The temporary name does not end in
    ``.prom``, so the textfile collector never picks it up. The previous file is kept as
    ``path.bak`` (a name the textfile collector ignores as well).
    """
    from minfree.apply.safe_write import atomic_write
    from minfree.errors import SourceError

    target = os.path.abspath(os.fspath(path))
    directory = os.path.dirname(target)
    if os.path.isdir(target):
        raise SourceError(f"{path}: is a directory")
    if not os.path.isdir(directory):
        raise SourceError(f"{directory}: no such directory")
    if os.path.exists(target):
        backup = target + ".bak"
        backup_tmp = f"{backup}.{os.getpid()}"
        try:
            os.link(target, backup_tmp)
            os.replace(backup_tmp, backup)
        except OSError:
            # a missing backup must not stop the metrics from being written
            with contextlib.suppress(OSError):
                os.unlink(backup_tmp)
    atomic_write(target, data)
