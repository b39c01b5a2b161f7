"""Everything the doctor knows about one host, gathered once: the input of the findings rules.

A :class:`Diagnosis` is assembled from the host snapshot (``/proc`` or a bundle), the scan of
the kernel logs, the boot-time sysctl resolution and, when there is one, a second
``/proc/vmstat`` sample. The findings rules (:mod:`minfree.analysis.findings`) and the
sizing rules (:mod:`minfree.recommend`) read only this structure, so they can be tested on
hand-checked values and on real fixtures alike. Whatever could not be read is listed in
``missing`` (a path or a check, and why) instead of raising: a partial bundle still gets a
diagnosis, with its blind spots named.

:func:`diagnose` builds it from a :class:`~minfree.model.host_inputs.HostInputs`, which
:func:`minfree.sources.host_inputs.collect_host_inputs` reads: this module never opens a
file. It adapts the other layers' objects into the small frozen types below so that a
change in another module's model breaks one adapter, not every rule.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from minfree.model.host_inputs import HostInputs
from minfree.model.zone import Zone

if TYPE_CHECKING:  # pragma: no cover
    from minfree.analysis.failure_report import ScanResult

log = logging.getLogger(__name__)

#: sysctl keys whose runtime value the doctor compares with what boot would apply.
WATCHED_SYSCTLS: tuple[str, ...] = (
    "vm.min_free_kbytes",
    "vm.watermark_scale_factor",
    "vm.watermark_boost_factor",
    "vm.swappiness",
    "vm.vfs_cache_pressure",
    "vm.zone_reclaim_mode",
    "vm.extfrag_threshold",
    "vm.max_map_count",
    "net.core.somaxconn",
)

#: Zone names that count as "lowmem" for min_free_kbytes (kernel: !is_highmem; Movable is
#: excluded from 6.6, and an empty Movable/Device zone holds no free memory anyway).
LOWMEM_ZONE_NAMES = frozenset({"DMA", "DMA32", "Normal"})


@dataclass(frozen=True)
class MissingItem:
    """Something the doctor could not check, and why (shown in text, ``missing[]`` in JSON)."""

    what: str
    reason: str


@dataclass(frozen=True)
class MemoryPicture:
    """Host-wide memory in kB, from ``/proc/meminfo`` (None = not reported by this kernel)."""

    total_kb: int | None
    free_kb: int | None
    available_kb: int | None
    #: file-backed LRU pages (Active(file) + Inactive(file)); falls back to Cached.
    file_cache_kb: int | None
    slab_reclaimable_kb: int | None = None
    swap_total_kb: int | None = None
    source: str = "proc/meminfo"

    @property
    def reclaimable_kb(self) -> int | None:
        """Page cache plus reclaimable slab: what reclaim can give back without swapping."""
        if self.file_cache_kb is None:
            return None
        return self.file_cache_kb + (self.slab_reclaimable_kb or 0)


@dataclass(frozen=True)
class NicInfo:
    """One network interface, as far as the RX-burst model needs it."""

    name: str
    driver: str | None = None
    mtu: int | None = None
    rx_queues: int | None = None
    #: ``ethtool -g`` current RX ring size, when captured
    rx_ring: int | None = None


@dataclass(frozen=True)
class FailureZoneState:
    """A zone as printed in a failure report's Mem-Info block (kB), with the check's result."""

    name: str
    free_kb: int
    min_kb: int
    low_kb: int | None = None
    high_kb: int | None = None
    #: the reduced (effective) min the failing allocation was held to, in kB, when known
    effective_min_kb: int | None = None
    #: ``watermark`` (free under the reduced min), ``order`` (no block big enough) or None
    failed_by: str | None = None
    highest_free_order: int | None = None
    file_cache_kb: int | None = None
    #: pages short of passing the check, in kB (watermark failures only)
    deficit_kb: int | None = None


@dataclass(frozen=True)
class FailureGroup:
    """Failure reports with the same process, order, mode and context, counted together.

    ``count`` includes the ``callbacks suppressed`` lines attributed to the group (the kernel
    rate-limits the reports, so the real number is higher than the headers seen).
    """

    process: str
    order: int
    mode: str
    context: str
    count: int
    suppressed: int = 0
    first_seen: str | None = None
    last_seen: str | None = None
    #: the scan's verdict for the group (e.g. ``atomic reserve exhausted``), worded upstream
    verdict: str | None = None
    #: True when the mask cannot sleep (GFP_ATOMIC and friends); None when not decoded
    atomic: bool | None = None
    #: Mem-Info zones at failure time (first report of the group that printed them)
    zones: tuple[FailureZoneState, ...] = ()
    #: how far free memory was below what the allocation needed, kB (worst zone)
    deficit_kb: int | None = None
    sources: tuple[str, ...] = ()
    #: the scan's plain-words advice for the group
    advice: str | None = None

    @property
    def under_reduced_min(self) -> bool | None:
        """Whether a zone at failure time was under the reduced min the caller was held to."""
        if self.verdict == "reserve-exhausted":
            return True
        if not self.zones or self.verdict in ("fragmented", "constrained"):
            return None if not self.zones else False
        return all(z.failed_by == "watermark" for z in self.zones)

    @property
    def no_block_of_order(self) -> bool | None:
        """Whether the failure happened with enough free memory but no block of the order."""
        if self.verdict == "fragmented":
            return True
        if not self.zones:
            return None
        return False


@dataclass(frozen=True)
class ReclaimDelta:
    """Reclaim activity between two ``/proc/vmstat`` samples ``interval_s`` seconds apart.

    Counters are summed over zones where the kernel splits them (``allocstall_normal``...).
    """

    interval_s: float
    allocstall: int
    pgscan_direct: int
    kswapd_low_wmark_hit_quickly: int
    pgalloc: int
    compact_stall: int = 0
    pgscan_kswapd: int = 0
    source: str = "proc/vmstat"

    def rate_per_s(self, counter: int) -> float:
        return counter / self.interval_s if self.interval_s > 0 else 0.0


@dataclass(frozen=True)
class BootDefinition:
    """Where a sysctl key is set in the boot configuration (file and line)."""

    path: str
    line: int | None
    value: str


@dataclass(frozen=True)
class BootValue:
    """The value one key gets at boot, under systemd-sysctl and under procps ``--system``."""

    key: str
    systemd_value: str | None
    procps_value: str | None
    #: the definition that wins under systemd-sysctl, then every one it overrides
    systemd_winner: BootDefinition | None = None
    overridden: tuple[BootDefinition, ...] = ()
    procps_winner: BootDefinition | None = None


@dataclass(frozen=True)
class BootView:
    """The boot-time sysctl picture the doctor needs (adapted from ``sysctl_boot``)."""

    values: Mapping[str, BootValue]
    #: whether systemd-sysctl reads /etc/sysctl.conf (through a 99-sysctl.conf link)
    sysctl_conf_read_at_boot: bool | None
    #: keys that /etc/sysctl.conf sets, with their lines
    sysctl_conf_definitions: tuple[tuple[str, BootDefinition], ...] = ()
    uses_systemd: bool | None = None
    #: False when the bundle holds no sysctl configuration at all (boot values unknown)
    config_captured: bool = True
    #: "systemd-sysctl", "procps" or None (init system unknown)
    boot_tool: str | None = None


@dataclass(frozen=True)
class AerospikeSizing:
    """What the Aerospike rule needs from aerospike.conf (see parsers.aerospike_conf)."""

    max_stage_size_bytes: int
    source: str
    #: (namespace, setting, bytes) that gave the largest stage
    from_setting: str | None = None


@dataclass(frozen=True)
class Diagnosis:
    """One host's state for the rules: memory, zones, settings, failures and blind spots."""

    label: str
    release: str | None
    page_size_bytes: int = 4096
    memory: MemoryPicture | None = None
    zones: tuple[Zone, ...] = ()
    sysctl: Mapping[str, str] = field(default_factory=dict)
    #: where the sysctl values were read (proc/sys or sos_commands/kernel/sysctl_-a)
    sysctl_source: str = "proc/sys"
    thp_enabled: str | None = None
    thp_defrag: str | None = None
    numa_nodes: int = 1
    interfaces: tuple[NicInfo, ...] = ()
    failures: tuple[FailureGroup, ...] = ()
    #: suppressed-callback lines the scan could not attribute to a group
    unattributed_suppressed: int = 0
    reclaim: ReclaimDelta | None = None
    vmstat: Mapping[str, int] = field(default_factory=dict)
    boot: BootView | None = None
    kernel_default_min_free_kb: int | None = None
    kernel_default_formula: str | None = None
    thp_recommended_min_free_kb: int | None = None
    thp_formula: str | None = None
    profile: str = "generic"
    aerospike: AerospikeSizing | None = None
    #: kswapd-reaction sizing input: the --interval the user asked for (seconds)
    interval_s: float | None = None
    #: the simulator's safe reserve (kB) when --simulate ran, with its description
    simulated_safe_min_free_kb: int | None = None
    simulated_detail: str | None = None
    simulated_inputs: Mapping[str, Any] = field(default_factory=dict)
    #: the kernel's watermark_scale_factor upper bound for this release (1000 or 3000)
    watermark_scale_factor_max: int | None = None
    missing: tuple[MissingItem, ...] = ()
    #: the explained log scan the failure groups come from (each report, for the views that
    #: show them); None when the logs could not be read
    scan: ScanResult | None = None

    # ---- convenience accessors used by findings and recommend -------------------------

    def sysctl_int(self, key: str) -> int | None:
        """A sysctl as an integer, or None when absent or not a single integer."""
        value = self.sysctl.get(key)
        if value is None:
            return None
        try:
            return int(str(value).split()[0])
        except (ValueError, IndexError):
            return None

    @property
    def populated_zones(self) -> tuple[Zone, ...]:
        return tuple(z for z in self.zones if z.populated)

    def lowmem_zones(self) -> tuple[Zone, ...]:
        return tuple(z for z in self.populated_zones if z.name in LOWMEM_ZONE_NAMES)

    def pages_to_kb(self, pages: int) -> int:
        return pages * self.page_size_bytes // 1024

    @property
    def total_ram_kb(self) -> int | None:
        """RAM for percentage rules: MemTotal, else the managed pages of all zones."""
        if self.memory is not None and self.memory.total_kb:
            return self.memory.total_kb
        managed = [z.managed_pages for z in self.zones if z.managed_pages is not None]
        if managed:
            return self.pages_to_kb(sum(managed))
        return None

    @property
    def high_watermark_sum_kb(self) -> int | None:
        if not self.zones:
            return None
        return self.pages_to_kb(sum(z.high_pages for z in self.populated_zones))

    @property
    def thp_active(self) -> bool | None:
        """Whether khugepaged's reserve applies (THP enabled ``always`` or ``madvise``)."""
        if self.thp_enabled is None:
            return None
        return self.thp_enabled in ("always", "madvise")


# ---------------------------------------------------------------------------------------
# Assembly: adapters from the other layers' objects into the types above.
# ---------------------------------------------------------------------------------------

def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """First attribute (or mapping key) present among ``names``: tolerates model renames."""
    if obj is None:
        return default
    for name in names:
        if isinstance(obj, Mapping) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            value = getattr(obj, name)
            if value is not None:
                return value
    return default


def memory_from_meminfo(meminfo: Any, source: str = "proc/meminfo") -> MemoryPicture | None:
    """Adapt a parsed meminfo (:class:`minfree.model.meminfo.MemInfo` or a name -> kB map)."""
    if meminfo is None:
        return None
    fields: Mapping[str, Any]
    if isinstance(meminfo, Mapping):
        fields = meminfo
    else:
        fields = _get(meminfo, "fields_kb", "fields", default={})

    def pick(raw: str) -> int | None:
        value = fields.get(raw)
        try:
            return None if value is None else int(value)
        except (TypeError, ValueError):
            return None

    active_file = pick("Active(file)")
    inactive_file = pick("Inactive(file)")
    if active_file is not None and inactive_file is not None:
        file_cache: int | None = active_file + inactive_file
    else:
        file_cache = pick("Cached")
    return MemoryPicture(
        total_kb=pick("MemTotal"),
        free_kb=pick("MemFree"),
        available_kb=pick("MemAvailable"),
        file_cache_kb=file_cache,
        slab_reclaimable_kb=pick("SReclaimable"),
        swap_total_kb=pick("SwapTotal"),
        source=source,
    )


def vmstat_counters(vmstat: Any) -> dict[str, int]:
    """A parsed vmstat as a plain name -> int mapping."""
    if vmstat is None:
        return {}
    if isinstance(vmstat, Mapping):
        raw = vmstat
    else:
        raw = _get(vmstat, "counters", "values", "fields", default={})
    out: dict[str, int] = {}
    for key, value in dict(raw).items():
        try:
            out[str(key)] = int(value)
        except (TypeError, ValueError):
            continue
    return out


def reclaim_delta(first: Any, second: Any, interval_s: float, source: str) -> ReclaimDelta:
    """Reclaim counters' increase between two vmstat samples ``interval_s`` seconds apart.

    The counting (era names folded, resets dropped) is
    :func:`minfree.analysis.reclaim_activity.reclaim_activity`; this adds the allocation
    rate (``pgalloc_<zone>`` summed) that sizes watermark_scale_factor. Samples are
    :class:`~minfree.model.vmstat.VmStat` values or name -> count mappings. A counter that
    went down (reboot between samples) counts as 0.

    >>> d = reclaim_delta({"allocstall_normal": 1, "pgalloc_normal": 10},
    ...                   {"allocstall_normal": 4, "pgalloc_normal": 110}, 2.0, "x")
    >>> (d.allocstall, d.pgalloc, d.rate_per_s(d.pgalloc))
    (3, 100, 50.0)
    """
    from minfree.analysis.reclaim_activity import reclaim_activity
    from minfree.model.vmstat import VmStat

    a = first if isinstance(first, VmStat) else VmStat(counters=dict(first))
    b = second if isinstance(second, VmStat) else VmStat(counters=dict(second))
    activity = reclaim_activity(a, b, interval_s)
    alloc_before, alloc_after = a.per_zone("pgalloc"), b.per_zone("pgalloc")
    pgalloc = sum(max(0, alloc_after.get(z, 0) - before) for z, before in alloc_before.items())

    def delta(name: str) -> int:
        return int(activity.deltas.get(name, 0))

    return ReclaimDelta(
        interval_s=interval_s,
        allocstall=delta("allocstall"),
        pgscan_direct=delta("pgscan_direct"),
        kswapd_low_wmark_hit_quickly=delta("kswapd_low_wmark_hit_quickly"),
        pgalloc=pgalloc,
        compact_stall=delta("compact_stall"),
        pgscan_kswapd=delta("pgscan_kswapd"),
        source=source,
    )


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def merge_missing(*groups: Iterable[Any]) -> tuple[MissingItem, ...]:
    """Normalise Missing objects from other layers (path/reason) and de-duplicate."""
    seen: dict[tuple[str, str], MissingItem] = {}
    for group in groups:
        for item in group:
            if isinstance(item, MissingItem):
                entry = item
            else:
                what = str(_get(item, "what", "path", "name", default=item))
                reason = str(_get(item, "reason", "why", default="not available"))
                entry = MissingItem(what, reason)
            seen.setdefault((entry.what, entry.reason), entry)
    return tuple(seen.values())


def sorted_zones(zones: Sequence[Zone]) -> tuple[Zone, ...]:
    return tuple(sorted(zones, key=lambda z: (z.node, z.index)))


# ---------------------------------------------------------------------------------------
# Diagnosis: what the inputs read by minfree.sources.host_inputs mean, without reading.
# ---------------------------------------------------------------------------------------

#: Zones holding this much more than MemTotal mean meminfo is a container's (lxcfs) view.
#: The reverse (zones smaller) is normal while a VM initialises memory lazily.
CONTAINER_VIEW_MARGIN = 0.10
#: Default --interval on the live host (seconds): long enough to see reclaim counters move,
#: short enough for a command people run by hand.
DEFAULT_LIVE_INTERVAL_S = 3.0


def _safely(component: str, missing: list[MissingItem], fn: Any, *args: Any,
            **kwargs: Any) -> Any:
    """Run one step of the diagnosis; a failure becomes a ``missing`` entry, never a crash.

    A :class:`~minfree.errors.MinfreeError` here describes a part of the host that could not
    be worked out (a formula refusing odd zones, a configuration that cannot be resolved).
    """
    from minfree.errors import MinfreeError

    try:
        return fn(*args, **kwargs)
    except MinfreeError as error:
        missing.append(MissingItem(component, str(error)))
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError,
            ZeroDivisionError, ArithmeticError, UnicodeError) as error:
        log.debug("%s failed", component, exc_info=True)
        missing.append(MissingItem(component, f"could not be read ({type(error).__name__}: "
                                              f"{error})"))
    return None


def _group_failures(scan: Any) -> tuple[FailureGroup, ...]:
    """ScanResult (analysis.failure_report) -> FailureGroup values with zones and deficits."""
    by_key: dict[tuple[Any, ...], list[Any]] = {}
    for item in getattr(scan, "reports", ()):
        r = item.report
        by_key.setdefault((r.process, r.order, item.mode_text, item.context.kind), []).append(
            item)
    groups: list[FailureGroup] = []
    for g in getattr(scan, "groups", ()):
        items = by_key.get((g.process, g.order, g.mode, g.context), [])
        zones: tuple[FailureZoneState, ...] = ()
        deficits: list[int] = []
        atomic = None
        labels: dict[str, None] = {}
        for item in items:
            labels.setdefault(f"{item.report.source}:{item.report.first_line}", None)
            if item.gfp is not None:
                atomic = (atomic or False) or not item.gfp.can_sleep
            states = _zone_states(item)
            if states and not zones:
                zones = states
            deficits.extend(z.deficit_kb for z in states if z.deficit_kb is not None)
        if atomic is None and items and all(i.context.interrupt for i in items):
            atomic = True  # interrupt context cannot sleep whatever the mask says
        groups.append(FailureGroup(
            process=g.process or "?", order=g.order if g.order is not None else -1,
            mode=g.mode, context=g.context, count=g.count, suppressed=g.suppressed,
            first_seen=g.first_seen, last_seen=g.last_seen, verdict=g.verdict,
            atomic=atomic, zones=zones,
            deficit_kb=min(deficits) if deficits and g.verdict == "reserve-exhausted" else None,
            sources=tuple(labels) or tuple(g.sources),
            advice=getattr(g, "advice", None),
        ))
    return tuple(groups)


def _zone_states(item: Any) -> tuple[FailureZoneState, ...]:
    verdict = item.verdict
    checks = getattr(verdict, "zones", ()) or ()
    if not checks:
        return ()
    page_kb = verdict.page_size_kb or 4
    meminfo = item.report.meminfo
    printed = {}
    global_cache = None
    if meminfo is not None:
        printed = {(z.node, z.zone): z for z in meminfo.zones}
        counters = meminfo.global_counters
        if "active_file" in counters or "inactive_file" in counters:
            global_cache = (counters.get("active_file", 0) + counters.get("inactive_file", 0)) * (
                page_kb)
    order = item.report.order or 0
    states = []
    for c in checks:
        z = printed.get((c.node, c.zone)) or printed.get((None, c.zone))
        deficit = None
        if c.failed_by == "watermark" and c.effective_min_pages is not None:
            usable = c.usable_free_pages if c.usable_free_pages is not None else (
                c.free_pages - (1 << order) + 1)
            deficit = max(0, c.effective_min_pages + (c.reserve_pages or 0) - usable + 1) * page_kb
        cache = None
        if z is not None:
            fields = z.fields_kb
            if "active_file" in fields or "inactive_file" in fields:
                cache = fields.get("active_file", 0) + fields.get("inactive_file", 0)
        states.append(FailureZoneState(
            name=c.zone, free_kb=c.free_pages * page_kb, min_kb=c.min_pages * page_kb,
            low_kb=z.low_kb if z is not None else None,
            high_kb=z.high_kb if z is not None else None,
            effective_min_kb=None if c.effective_min_pages is None else c.effective_min_pages * (
                page_kb),
            failed_by=c.failed_by, highest_free_order=c.highest_free_order,
            file_cache_kb=cache if cache is not None else global_cache,
            deficit_kb=deficit,
        ))
    return tuple(states)


def _interfaces(snapshot: Any) -> tuple[NicInfo, ...]:
    out = []
    for nic in getattr(snapshot, "interfaces", ()) or ():
        out.append(NicInfo(name=nic.name, driver=nic.driver, mtu=nic.mtu,
                           rx_queues=nic.rx_queues, rx_ring=nic.rx_ring_current))
    return tuple(out)


def boot_view(boot: Any, config_captured: bool = True) -> BootView:
    """Adapt ``analysis.sysctl_boot.BootSysctl`` to what the rules need."""

    def definition(d: Any) -> BootDefinition | None:
        if d is None:
            return None
        return BootDefinition(path=d.where.split(" (via")[0].rsplit(":", 1)[0], line=d.line,
                              value=d.value)

    values: dict[str, BootValue] = {}
    for key in WATCHED_SYSCTLS:
        systemd = boot.systemd.resolve(key)
        procps = boot.procps.resolve(key)
        values[key] = BootValue(
            key=key,
            systemd_value=systemd.value,
            procps_value=procps.value,
            systemd_winner=definition(systemd.winner),
            overridden=tuple(filter(None, (definition(d) for d in reversed(
                systemd.overridden)))),
            procps_winner=definition(procps.winner),
        )
    conf_defs: list[tuple[str, BootDefinition]] = []
    for key in boot.procps.keys():  # noqa: SIM118 - a BootStack, not a dict
        for d in boot.procps.resolve(key).definitions:
            if d.read_from == "/etc/sysctl.conf" and d.file == "/etc/sysctl.conf":
                conf_defs.append((key, BootDefinition(d.file, d.line, d.value)))
    uses_systemd = {"systemd": True, "unknown": None}.get(boot.init, False)
    read = boot.systemd.reads_sysctl_conf if uses_systemd else boot.sysctl_conf_read_at_boot
    return BootView(values=values, sysctl_conf_read_at_boot=read, boot_tool=boot.boot_tool,
                    sysctl_conf_definitions=tuple(conf_defs),
                    uses_systemd=uses_systemd, config_captured=config_captured)


def diagnose(inputs: HostInputs) -> Diagnosis:
    """What one host's inputs mean for the rules: a pure function of what was read.

    ``inputs`` come from :func:`minfree.sources.host_inputs.collect_host_inputs`. The log
    scan is explained here (:func:`minfree.analysis.failure_report.explain_scan`) and kept
    on the diagnosis (``scan``) for the views that show each report; the boot-time sysctl
    values are resolved from the collected configuration. Whatever could not be read or
    worked out is listed in ``missing``.
    """
    from minfree.kernel.release import KernelRelease

    missing: list[MissingItem] = []
    missing.extend(merge_missing(inputs.missing_for("snapshot")))
    snapshot = inputs.snapshot
    release_obj = getattr(snapshot, "release", None)
    release = release_obj.text if release_obj is not None else None
    page_size = getattr(snapshot, "page_size_bytes", 4096) or 4096
    zones = sorted_zones(getattr(snapshot, "zones", ()) or ())
    memory = memory_from_meminfo(getattr(snapshot, "meminfo", None))
    managed_kb = sum(z.managed_pages or 0 for z in zones) * page_size // 1024
    if memory is not None and memory.total_kb and managed_kb > memory.total_kb * (
            1 + CONTAINER_VIEW_MARGIN):
        # lxcfs shows a container its memory limit while zoneinfo is the host's: mixing
        # the two would compare a 1 GiB "MemFree" with 16 GiB of watermarks.
        missing.append(MissingItem(
            "proc/meminfo", f"a container's view (MemTotal {memory.total_kb} kB, zones "
            f"{managed_kb} kB): host memory checks use the zones only"))
        memory = None
    counters = vmstat_counters(getattr(snapshot, "vmstat", None))

    # -- reclaim rates from the second vmstat sample ----------------------------------------
    reclaim = None
    second = inputs.vmstat_second
    second_source = inputs.vmstat_second_source
    measured_interval = inputs.interval_s
    if (second is not None or inputs.missing_for("vmstat_second")) and counters:
        missing.extend(merge_missing(inputs.missing_for("vmstat_second")))
        if second is not None and measured_interval and measured_interval > 0:
            first_sample = getattr(snapshot, "vmstat", None) or counters
            reclaim = reclaim_delta(first_sample, second, float(measured_interval),
                                    f"proc/vmstat and {second_source}")
        elif second is not None:
            missing.append(MissingItem("reclaim rates", f"{second_source} found but the time "
                                       "between samples is unknown (give --interval)"))
    elif not counters:
        missing.append(MissingItem("reclaim rates", "no /proc/vmstat"))
    else:
        missing.append(MissingItem(
            "reclaim rates", "one vmstat sample only (live: --interval SECONDS; bundle: "
            "proc/vmstat.2 with proc/uptime and proc/uptime.2, or --vmstat-second FILE)"))

    # -- failures from the logs ---------------------------------------------------------------
    from minfree.analysis.failure_report import explain_scan

    missing.extend(merge_missing(inputs.missing_for("logs")))
    scan = None
    failures: tuple[FailureGroup, ...] = ()
    if inputs.log_scan is not None:
        scan = explain_scan(inputs.log_scan)
        failures = _group_failures(scan)
        for note in scan.notes:
            missing.append(MissingItem("kernel log", note))

    # -- boot-time sysctl --------------------------------------------------------------
    from minfree.analysis.sysctl_boot import resolve_boot_sysctl

    missing.extend(merge_missing(inputs.missing_for("sysctl_config")))
    captured = inputs.sysctl_config_captured
    boot_raw = boot = None
    if inputs.sysctl_config is not None:
        boot_raw = _safely("boot-time sysctl configuration", missing, resolve_boot_sysctl,
                           inputs.sysctl_config)
    if boot_raw is not None:
        boot = _safely("boot-time sysctl configuration", missing, boot_view, boot_raw, captured)
    if not captured:
        missing.append(MissingItem("boot-time sysctl", "no /etc/sysctl.conf or sysctl.d in the "
                                   "bundle: what the next boot applies is unknown"))

    # -- kernel defaults ---------------------------------------------------------------------
    from minfree.kernel import min_free

    release_parsed = release_obj if release_obj is not None else KernelRelease.try_parse(None)
    default_kb = default_formula = thp_kb = thp_formula = None
    if zones:
        detail = _safely("kernel default min_free_kbytes", missing,
                         min_free.default_min_free_detail, zones, page_size_bytes=page_size,
                         release=release_parsed)
        if detail is not None:
            default_kb = detail.kbytes
            default_formula = (f"4 x sqrt({detail.lowmem_kbytes} kB lowmem) = "
                               f"{detail.unclamped_kbytes}, clamped to [128, "
                               f"{detail.cap_kbytes}]")
        # khugepaged's 5% cap reads nr_free_buffer_pages() (managed - high); size it for the
        # boot-time watermarks, not for today's (possibly huge) reserve: at boot the
        # watermarks are those of the small square-root default, close to 0 at this scale.
        import dataclasses as _dc

        boot_zones = tuple(_dc.replace(z, high_pages=0) for z in zones)
        thp = _safely("THP recommendation", missing, min_free.thp_recommendation_detail,
                      boot_zones,
                      page_size_bytes=page_size,
                      pageblock_order=getattr(snapshot, "pageblock_order", None),
                      release=release_parsed)
        if thp is not None:
            thp_kb = thp.kbytes
            thp_formula = (f"11 x {thp.pageblock_pages} pages x {thp.nr_zones} zones = "
                           f"{thp.uncapped_pages} pages, at most {thp.cap_pages} (5% of "
                           "lowmem)")
    else:
        missing.append(MissingItem("zones", "no /proc/zoneinfo: watermarks, kernel default and "
                                   "fragmentation not checked"))

    # -- min_free_kbytes not captured: infer it from the printed min watermarks ---------------
    sysctl = dict(getattr(snapshot, "sysctl", {}) or {})
    if "vm.min_free_kbytes" not in sysctl and zones:
        from minfree.kernel import watermarks

        features = _safely("watermark era", missing, watermarks.detect_features, zones,
                           release=release_parsed, sysctl=sysctl)
        implied = _safely("implied min_free_kbytes", missing,
                          watermarks.implied_min_free_kbytes, zones, features=features,
                          page_size_bytes=page_size) if features is not None else None
        if implied is not None:
            low, high = implied
            known = [v for v in (thp_kb, default_kb) if v is not None and low <= v <= high]
            value = known[0] if known else low
            sysctl["vm.min_free_kbytes"] = str(value)
            missing.append(MissingItem(
                "vm.min_free_kbytes", f"not captured; {value} inferred from the zones' min "
                f"watermarks (they allow {low}..{high})"))

    # -- Aerospike configuration ---------------------------------------------------------------
    missing.extend(merge_missing(inputs.missing_for("aerospike_conf")))
    aerospike = None
    if inputs.aerospike_conf is not None:
        conf = inputs.aerospike_conf
        aerospike = AerospikeSizing(conf.max_stage_size_bytes,
                                    str(inputs.aerospike_conf_source or conf.source),
                                    conf.max_stage_from)

    wsf_max = None
    try:
        from minfree.kernel import sysctl_catalog

        spec = sysctl_catalog.lookup("vm.watermark_scale_factor")
        if spec is not None:
            wsf_max = sysctl_catalog.value_range(spec, release_parsed)[1]
    except ImportError:
        pass

    snapshot_missing = getattr(snapshot, "missing", ()) or ()
    return Diagnosis(
        label=inputs.label,
        release=release,
        page_size_bytes=page_size,
        memory=memory,
        zones=zones,
        sysctl=sysctl,
        sysctl_source=getattr(snapshot, "sysctl_source", None) or "proc/sys",
        thp_enabled=getattr(snapshot, "thp_enabled", None),
        thp_defrag=getattr(snapshot, "thp_defrag", None),
        numa_nodes=max(1, len(getattr(snapshot, "numa_nodes", ()) or ())),
        interfaces=_interfaces(snapshot),
        failures=failures,
        reclaim=reclaim,
        vmstat=counters,
        boot=boot,
        kernel_default_min_free_kb=default_kb,
        kernel_default_formula=default_formula,
        thp_recommended_min_free_kb=thp_kb,
        thp_formula=thp_formula,
        profile=inputs.profile,
        aerospike=aerospike,
        interval_s=measured_interval,
        watermark_scale_factor_max=wsf_max,
        scan=scan,
        missing=merge_missing(snapshot_missing, missing),
    )
