"""Findings as data: what is wrong (or fine) with a host's reserve, and the overall verdict.

Each rule reads a :class:`~minfree.analysis.diagnosis.Diagnosis` and returns zero or more
:class:`Finding` values: a stable ``key``, a ``severity``, the numbers that make the case
(``params``) and where each number came from (``evidence``). Nothing here is worded for
people; :mod:`minfree.outputs.findings_text` turns keys and params into sentences, so the
JSON stays stable while the wording can improve.

Severities, most severe first: ``critical`` (the host is failing allocations now),
``warning`` (a setting or state that puts it at risk), ``notice`` (worth knowing, may fight
the workload), ``info`` (context). The verdict is ``failing`` with any critical finding,
``at risk`` with any warning, else ``healthy``.

Example::

    >>> from minfree.analysis.diagnosis import Diagnosis
    >>> d = Diagnosis(label="t", release="6.1.0", sysctl={"vm.min_free_kbytes": "1024"},
    ...               kernel_default_min_free_kb=16384)
    >>> [f.key for f in evaluate(d)]
    ['MIN_FREE_BELOW_KERNEL_DEFAULT']
    >>> verdict(evaluate(d)).status
    'at risk'
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from minfree.analysis.diagnosis import Diagnosis, FailureGroup

#: Severity names in decreasing order of gravity.
SEVERITIES: tuple[str, ...] = ("critical", "warning", "notice", "info")
SEVERITY_RANK: Mapping[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}

#: The kernel's PAGE_ALLOC_COSTLY_ORDER (include/linux/mmzone.h, every version): orders above
#: it are "costly"; their callers usually have fallbacks, so failures there are less urgent
#: (SUSE TID 7002803), while order 0-3 atomic failures lose packets and connections.
COSTLY_ORDER = 3

#: Above 5% of RAM, vendors warn that min_free_kbytes starts to cost real memory and can
#: OOM the host (Red Hat tuning guide: 5-10% "immediate OOM"); the recommender's cap too.
TOO_HIGH_FRACTION = 0.05

#: "Free near the low watermark": free memory under this many times the sum of the high
#: watermarks. kswapd is woken at low and sleeps at high, so a host parked just above high
#: with a full page cache is one burst away from min.
NEAR_WATERMARK_FACTOR = 2.0
#: "Reclaimable cache is large": file cache at least this many times free memory and at
#: least this share of RAM (the classic Aerospike/Kafka picture).
CACHE_TO_FREE_RATIO = 4.0
CACHE_SHARE_OF_RAM = 0.20

#: Aerospike's startup best-practice thresholds (aerospike-server cf/src/os.c,
#: cf_os_best_practices_checks()).
AEROSPIKE_MAX_MAP_COUNT = 262144
AEROSPIKE_SOMAXCONN = 4096
AEROSPIKE_THP_ALLOWED = ("never", "madvise")
#: 1 GiB default index-stage-size + 100 MiB, in kB (as/src/base/cfg.c, namespace.c).
AEROSPIKE_DEFAULT_MIN_FREE_KB = 1_048_576 + 102_400


@dataclass(frozen=True)
class Evidence:
    """Where a finding's numbers came from: a file (or check) and the values read there."""

    source: str
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """One diagnosis result: ``key`` names the rule, ``params`` carry its numbers."""

    key: str
    severity: str
    params: Mapping[str, Any] = field(default_factory=dict)
    evidence: tuple[Evidence, ...] = ()

    @property
    def rank(self) -> int:
        return SEVERITY_RANK[self.severity]


@dataclass(frozen=True)
class Verdict:
    """``healthy``, ``at risk`` or ``failing``, and the finding that decided it (if any)."""

    status: str
    reason: Finding | None = None


#: Every finding key the rules can produce (the outputs have wording for each).
FINDING_KEYS: tuple[str, ...] = (
    "PAGE_ALLOCATION_FAILURES",
    "ATOMIC_RESERVE_EXHAUSTED",
    "HIGH_ORDER_FRAGMENTATION",
    "CACHE_CROWDS_FREE_MEMORY",
    "KSWAPD_FALLING_BEHIND",
    "MIN_FREE_BELOW_KERNEL_DEFAULT",
    "MIN_FREE_TOO_HIGH",
    "MIN_FREE_RAISED_BY_THP",
    "SETTING_WILL_NOT_SURVIVE_REBOOT",
    "SYSCTL_CONF_NOT_READ_AT_BOOT",
    "ZONE_RECLAIM_ENABLED",
    "THP_DEFRAG_ALWAYS",
    "SWAPPINESS",
    "VFS_CACHE_PRESSURE",
    "AEROSPIKE_BEST_PRACTICE",
)


def _sysctl_evidence(d: Diagnosis, *keys: str) -> Evidence:
    return Evidence(d.sysctl_source, {k: d.sysctl.get(k) for k in keys})


def _failure_sources(groups: Iterable[FailureGroup]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        for source in group.sources:
            seen.setdefault(source, None)
    return tuple(seen)


# ---------------------------------------------------------------------------------------
# Rules on failures seen in the logs
# ---------------------------------------------------------------------------------------


def rule_page_allocation_failures(d: Diagnosis) -> list[Finding]:
    if not d.failures:
        return []
    by_order: Counter[int] = Counter()
    by_context: Counter[str] = Counter()
    suppressed = 0
    for group in d.failures:
        by_order[group.order] += group.count
        by_context[group.context] += group.count
        suppressed += group.suppressed
    # Rate-limited reports ("callbacks suppressed") are failures the log does not show.
    hidden = suppressed + d.unattributed_suppressed
    total = sum(by_order.values()) + hidden
    urgent = any(g.order <= COSTLY_ORDER for g in d.failures)
    atomic = sum(g.count for g in d.failures if g.atomic)
    params = {
        "total": total,
        "reports": sum(by_order.values()),
        "suppressed": hidden,
        "by_order": {str(k): v for k, v in sorted(by_order.items())},
        "by_context": dict(by_context.most_common()),
        "atomic": atomic,
        "max_order": max(by_order),
        "processes": sorted({g.process for g in d.failures}),
    }
    evidence = tuple(Evidence(src) for src in _failure_sources(d.failures)[:10])
    return [
        Finding("PAGE_ALLOCATION_FAILURES", "critical" if urgent else "warning", params, evidence)
    ]


def rule_atomic_reserve_exhausted(d: Diagnosis) -> list[Finding]:
    groups = [g for g in d.failures if g.under_reduced_min]
    if not groups:
        return []
    worst = max(groups, key=lambda g: g.deficit_kb or 0)
    # The allocation would have succeeded in any allowed zone: closest to passing first.
    failed = sorted(
        (z for z in worst.zones if z.failed_by == "watermark"),
        key=lambda z: (z.deficit_kb is None, z.deficit_kb or 0),
    )
    zones = [
        {
            "zone": z.name,
            "free_kb": z.free_kb,
            "min_kb": z.min_kb,
            "effective_min_kb": z.effective_min_kb,
            "deficit_kb": z.deficit_kb,
        }
        for z in failed
    ]
    params = {
        "atomic": any(g.atomic for g in groups),
        "reports": sum(g.count for g in groups),
        "orders": sorted({g.order for g in groups}),
        "deficit_kb": worst.deficit_kb,
        "zones": zones,
        "process": worst.process,
    }
    return [
        Finding(
            "ATOMIC_RESERVE_EXHAUSTED",
            "critical",
            params,
            tuple(Evidence(s, {"zones": zones}) for s in worst.sources[:3]),
        )
    ]


def _highest_order_all_zones(d: Diagnosis) -> int | None:
    orders = [z.highest_free_order() for z in d.lowmem_zones()]
    known = [o for o in orders if o is not None]
    return max(known) if known else None


def rule_high_order_fragmentation(d: Diagnosis) -> list[Finding]:
    findings: list[Finding] = []
    # 1. Failure reports that had the memory but not the block.
    groups = [g for g in d.failures if g.no_block_of_order]
    if groups:
        orders = sorted({g.order for g in groups})
        zone_detail = [
            {
                "zone": z.name,
                "free_kb": z.free_kb,
                "min_kb": z.min_kb,
                "highest_free_order": z.highest_free_order,
            }
            for g in groups
            for z in g.zones
            if z.failed_by == "order"
        ][:6]
        findings.append(
            Finding(
                "HIGH_ORDER_FRAGMENTATION",
                "warning",
                {
                    "orders": orders,
                    "reports": sum(g.count for g in groups),
                    "at": "failure",
                    "zones": zone_detail,
                },
                tuple(Evidence(s) for s in _failure_sources(groups)[:5]),
            )
        )
        return findings
    # 2. Now: a zone with free memory well above its high watermark but no free block of
    # the order the host needs (the orders that failed, else PAGE_ALLOC_COSTLY_ORDER).
    wanted = max((g.order for g in d.failures), default=COSTLY_ORDER)
    wanted = max(1, wanted)
    for zone in d.lowmem_zones():
        highest = zone.highest_free_order()
        if highest is None or zone.free_blocks is None:
            continue
        if zone.free_pages > zone.high_pages and highest < wanted:
            index = _unusable_index(zone.free_blocks, wanted)
            findings.append(
                Finding(
                    "HIGH_ORDER_FRAGMENTATION",
                    "warning",
                    {
                        "orders": [wanted],
                        "at": "now",
                        "zone": zone.name,
                        "node": zone.node,
                        "free_kb": d.pages_to_kb(zone.free_pages),
                        "high_kb": d.pages_to_kb(zone.high_pages),
                        "highest_free_order": highest,
                        "unusable_index": index,
                    },
                    (
                        Evidence(
                            "proc/buddyinfo",
                            {"zone": zone.name, "free_blocks": list(zone.free_blocks)},
                        ),
                    ),
                )
            )
    return findings


def _unusable_index(free_blocks: tuple[int, ...], order: int) -> float:
    """The kernel's unusable free space index (0..1) for ``order``.

    ``kernel.fragmentation`` returns thousandths, as ``mm/vmstat.c`` computes them; the
    finding reports the ratio the debugfs file prints (``0.873``).
    """
    from minfree.kernel import fragmentation

    return round(fragmentation.unusable_free_index(free_blocks, order) / 1000, 3)


# ---------------------------------------------------------------------------------------
# Rules on the memory state now
# ---------------------------------------------------------------------------------------


def rule_cache_crowds_free_memory(d: Diagnosis) -> list[Finding]:
    mem = d.memory
    # At failure time: a report's Mem-Info showing a big file cache and a zone near min.
    for group in d.failures:
        for zone in group.zones:
            cache = zone.file_cache_kb
            if cache is None or zone.low_kb is None:
                continue
            if zone.free_kb <= zone.low_kb * NEAR_WATERMARK_FACTOR and cache >= (
                CACHE_TO_FREE_RATIO * max(zone.free_kb, 1)
            ):
                return [
                    Finding(
                        "CACHE_CROWDS_FREE_MEMORY",
                        "warning",
                        {
                            "at": "failure",
                            "zone": zone.name,
                            "free_kb": zone.free_kb,
                            "low_kb": zone.low_kb,
                            "min_kb": zone.min_kb,
                            "file_cache_kb": cache,
                        },
                        tuple(Evidence(s) for s in group.sources[:2]),
                    )
                ]
    if mem is None or mem.free_kb is None or mem.file_cache_kb is None or not d.zones:
        return []
    high_sum = d.high_watermark_sum_kb or 0
    low_sum = d.pages_to_kb(sum(z.low_pages for z in d.populated_zones))
    total = d.total_ram_kb or 0
    free, cache = mem.free_kb, mem.file_cache_kb
    if high_sum <= 0 or total <= 0:
        return []
    near = free <= NEAR_WATERMARK_FACTOR * high_sum
    big_cache = cache >= CACHE_TO_FREE_RATIO * free and cache >= CACHE_SHARE_OF_RAM * total
    if not (near and big_cache):
        return []
    return [
        Finding(
            "CACHE_CROWDS_FREE_MEMORY",
            "warning",
            {
                "at": "now",
                "free_kb": free,
                "low_sum_kb": low_sum,
                "high_sum_kb": high_sum,
                "file_cache_kb": cache,
                "total_kb": total,
                "cache_percent": round(100 * cache / total, 1),
            },
            (
                Evidence(mem.source, {"MemFree": free, "file cache": cache, "MemTotal": total}),
                Evidence("proc/zoneinfo", {"sum of low": low_sum, "sum of high": high_sum}),
            ),
        )
    ]


def rule_kswapd_falling_behind(d: Diagnosis) -> list[Finding]:
    r = d.reclaim
    if r is None:
        return []
    if r.allocstall == 0 and r.pgscan_direct == 0 and r.kswapd_low_wmark_hit_quickly == 0:
        return []
    params = {
        "interval_s": r.interval_s,
        "allocstall": r.allocstall,
        "pgscan_direct": r.pgscan_direct,
        "kswapd_low_wmark_hit_quickly": r.kswapd_low_wmark_hit_quickly,
        "allocation_rate_kb_s": round(d.pages_to_kb(1) * r.rate_per_s(r.pgalloc), 1),
        "watermark_scale_factor": d.sysctl_int("vm.watermark_scale_factor"),
    }
    return [
        Finding(
            "KSWAPD_FALLING_BEHIND",
            "warning",
            params,
            (
                Evidence(
                    r.source,
                    {
                        k: params[k]
                        for k in ("allocstall", "pgscan_direct", "kswapd_low_wmark_hit_quickly")
                    },
                ),
            ),
        )
    ]


# ---------------------------------------------------------------------------------------
# Rules on the settings
# ---------------------------------------------------------------------------------------


#: The kernel computed its default from the memory it had at boot; today's managed pages
#: differ a little (reserved memory, hotplug, lazily initialised zones), so a value within
#: this fraction below our recomputation is the kernel's own, not a user's lower setting.
DEFAULT_TOLERANCE = 0.05


def rule_min_free_below_default(d: Diagnosis) -> list[Finding]:
    current = d.sysctl_int("vm.min_free_kbytes")
    default = d.kernel_default_min_free_kb
    if current is None or default is None or current >= default * (1 - DEFAULT_TOLERANCE):
        return []
    return [
        Finding(
            "MIN_FREE_BELOW_KERNEL_DEFAULT",
            "warning",
            {"current_kb": current, "default_kb": default, "formula": d.kernel_default_formula},
            (_sysctl_evidence(d, "vm.min_free_kbytes"),),
        )
    ]


def rule_min_free_too_high(d: Diagnosis) -> list[Finding]:
    current = d.sysctl_int("vm.min_free_kbytes")
    total = d.total_ram_kb
    if current is None or not total:
        return []
    percent = 100 * current / total
    high_sum = d.high_watermark_sum_kb
    available = d.memory.available_kb if d.memory else None
    over_share = current > TOO_HIGH_FRACTION * total
    # MemAvailable is already net of the watermarks' reserve; when what is left for
    # applications is smaller than the reserve itself, a modest growth of anonymous
    # memory meets the OOM killer before reclaim can help.
    starves = high_sum is not None and available is not None and available < high_sum
    if not (over_share or starves):
        return []
    params = {
        "current_kb": current,
        "total_kb": total,
        "percent_of_ram": round(percent, 2),
        "limit_percent": TOO_HIGH_FRACTION * 100,
        "high_sum_kb": high_sum,
        "available_kb": available,
        "reason": "share" if over_share else "available",
    }
    evidence = [_sysctl_evidence(d, "vm.min_free_kbytes")]
    if d.memory is not None:
        evidence.append(Evidence(d.memory.source, {"MemTotal": total, "MemAvailable": available}))
    return [Finding("MIN_FREE_TOO_HIGH", "warning", params, tuple(evidence))]


def rule_min_free_raised_by_thp(d: Diagnosis) -> list[Finding]:
    thp_value = d.thp_recommended_min_free_kb
    current = d.sysctl_int("vm.min_free_kbytes")
    if not d.thp_active or thp_value is None or current is None:
        return []
    default = d.kernel_default_min_free_kb
    configured = None
    definition = None
    if d.boot is not None:
        boot = d.boot.values.get("vm.min_free_kbytes")
        if boot is not None and boot.systemd_value is not None:
            try:
                configured = int(boot.systemd_value)
            except ValueError:
                configured = None
            definition = boot.systemd_winner
    overridden_user = configured is not None and configured < thp_value
    # khugepaged raised it: the value in force is the THP recommendation and is above the
    # square-root default (otherwise THP changed nothing worth mentioning).
    raised = current == thp_value and (default is None or thp_value > default)
    if not (raised or overridden_user):
        return []
    params = {
        "current_kb": current,
        "thp_kb": thp_value,
        "default_kb": default,
        "configured_kb": configured,
        "thp_enabled": d.thp_enabled,
        "formula": d.thp_formula,
    }
    evidence = [
        _sysctl_evidence(d, "vm.min_free_kbytes"),
        Evidence("sys/kernel/mm/transparent_hugepage/enabled", {"enabled": d.thp_enabled}),
    ]
    if definition is not None:
        evidence.append(
            Evidence(
                f"{definition.path}:{definition.line}", {"vm.min_free_kbytes": definition.value}
            )
        )
    return [
        Finding(
            "MIN_FREE_RAISED_BY_THP",
            "notice" if overridden_user else "info",
            params,
            tuple(evidence),
        )
    ]


def _boot_default(d: Diagnosis, key: str) -> str | None:
    """What a key is after boot when no file sets it (kernel default), when known."""
    if key == "vm.min_free_kbytes":
        values = [
            v
            for v in (
                d.kernel_default_min_free_kb,
                d.thp_recommended_min_free_kb if d.thp_active else None,
            )
            if v is not None
        ]
        return str(max(values)) if values else None
    try:
        from minfree.kernel import sysctl_catalog
        from minfree.kernel.release import KernelRelease
    except ImportError:
        return None
    spec = sysctl_catalog.lookup(key)
    if spec is None:
        return None
    return sysctl_catalog.default_for(spec, KernelRelease.try_parse(d.release))


def _same_value(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a == b
    return a.split() == b.split()


def rule_setting_will_not_survive_reboot(d: Diagnosis) -> list[Finding]:
    if d.boot is None or not d.boot.config_captured:
        return []
    findings: list[Finding] = []
    for key, boot in sorted(d.boot.values.items()):
        runtime = d.sysctl.get(key)
        if runtime is None:
            continue
        if d.boot.boot_tool == "procps" or (
            d.boot.boot_tool is None and boot.systemd_value is None
        ):
            boot_value, winner = boot.procps_value, boot.procps_winner
        else:
            boot_value, winner = boot.systemd_value, boot.systemd_winner
        from_default = False
        if boot_value is None:
            boot_value = _boot_default(d, key)
            from_default = True
        if (
            key == "vm.min_free_kbytes"
            and d.thp_active
            and boot_value is not None
            and d.thp_recommended_min_free_kb is not None
        ):
            # khugepaged raises whatever boot wrote up to its recommendation (kernel-facts
            # §1.2), so a lower configured value still ends at the THP value after boot.
            with contextlib.suppress(ValueError):
                boot_value = str(max(int(boot_value), d.thp_recommended_min_free_kb))
        if (
            key == "vm.min_free_kbytes"
            and from_default
            and d.thp_active is None
            and runtime.strip()
            in (str(d.kernel_default_min_free_kb), str(d.thp_recommended_min_free_kb))
        ):
            # THP state not captured: either kernel value may be what boot gives.
            continue
        if boot_value is None or _same_value(runtime, boot_value):
            continue
        evidence = [_sysctl_evidence(d, key)]
        if winner is not None:
            evidence.append(Evidence(f"{winner.path}:{winner.line}", {key: winner.value}))
        for over in boot.overridden[:4]:
            evidence.append(
                Evidence(f"{over.path}:{over.line}", {key: over.value, "overridden": True})
            )
        findings.append(
            Finding(
                "SETTING_WILL_NOT_SURVIVE_REBOOT",
                "warning",
                {
                    "sysctl": key,
                    "runtime": runtime,
                    "boot": boot_value,
                    "boot_from": None if winner is None else f"{winner.path}:{winner.line}",
                    "boot_is_kernel_default": from_default,
                    "procps_boot": boot.procps_value,
                    "systemd_boot": boot.systemd_value,
                },
                tuple(evidence),
            )
        )
    return findings


def rule_sysctl_conf_not_read(d: Diagnosis) -> list[Finding]:
    if d.boot is None or d.boot.sysctl_conf_read_at_boot is not False:
        return []
    if d.boot.uses_systemd is not True:
        # procps `sysctl --system` reads it last; an unknown init gives no grounds to warn.
        return []
    definitions = d.boot.sysctl_conf_definitions
    params = {"keys": [k for k, _ in definitions], "values": {k: v.value for k, v in definitions}}
    evidence = tuple(Evidence(f"{v.path}:{v.line}", {k: v.value}) for k, v in definitions[:8])
    if not evidence:
        evidence = (Evidence("etc/sysctl.d", {"99-sysctl.conf": "absent"}),)
    return [
        Finding(
            "SYSCTL_CONF_NOT_READ_AT_BOOT", "warning" if definitions else "notice", params, evidence
        )
    ]


def rule_zone_reclaim(d: Diagnosis) -> list[Finding]:
    mode = d.sysctl_int("vm.zone_reclaim_mode")
    if not mode or d.numa_nodes < 2:
        return []
    return [
        Finding(
            "ZONE_RECLAIM_ENABLED",
            "warning",
            {"zone_reclaim_mode": mode, "numa_nodes": d.numa_nodes},
            (_sysctl_evidence(d, "vm.zone_reclaim_mode"),),
        )
    ]


def rule_thp_defrag_always(d: Diagnosis) -> list[Finding]:
    if d.thp_defrag != "always":
        return []
    severity = "warning" if d.profile == "aerospike" else "notice"
    return [
        Finding(
            "THP_DEFRAG_ALWAYS",
            severity,
            {"defrag": d.thp_defrag, "enabled": d.thp_enabled},
            (Evidence("sys/kernel/mm/transparent_hugepage/defrag", {"defrag": d.thp_defrag}),),
        )
    ]


def rule_swappiness(d: Diagnosis) -> list[Finding]:
    value = d.sysctl_int("vm.swappiness")
    if value is None or d.profile == "aerospike":  # the profile's own check covers it
        return []
    swap = d.memory.swap_total_kb if d.memory else None
    problem = None
    if value == 0 and swap:
        # Since 3.5, 0 means "never swap until the high watermark": anonymous growth then
        # meets the OOM killer instead of swap (Percona, 2014).
        problem = "zero_with_swap"
    elif value >= 100:
        problem = "prefers_swapping"
    if problem is None:
        return []
    return [
        Finding(
            "SWAPPINESS",
            "notice",
            {"swappiness": value, "problem": problem, "swap_total_kb": swap},
            (_sysctl_evidence(d, "vm.swappiness"),),
        )
    ]


def rule_vfs_cache_pressure(d: Diagnosis) -> list[Finding]:
    value = d.sysctl_int("vm.vfs_cache_pressure")
    if value is None:
        return []
    if value == 0:
        problem, severity = "zero", "warning"
    elif value < 50:
        problem, severity = "low", "notice"
    elif value > 200:
        problem, severity = "high", "notice"
    else:
        return []
    return [
        Finding(
            "VFS_CACHE_PRESSURE",
            severity,
            {"vfs_cache_pressure": value, "problem": problem},
            (_sysctl_evidence(d, "vm.vfs_cache_pressure"),),
        )
    ]


def aerospike_min_free_kb(d: Diagnosis) -> int:
    """Aerospike's server threshold: largest in-memory (s)index stage + 100 MiB, in kB."""
    if d.aerospike is not None:
        return d.aerospike.max_stage_size_bytes // 1024 + 102_400
    return AEROSPIKE_DEFAULT_MIN_FREE_KB


def rule_aerospike_best_practices(d: Diagnosis) -> list[Finding]:
    if d.profile != "aerospike":
        return []
    findings: list[Finding] = []
    source = "aerospike-server cf/src/os.c cf_os_best_practices_checks()"

    def add(check: str, current: Any, required: str, evidence: Evidence) -> None:
        findings.append(
            Finding(
                "AEROSPIKE_BEST_PRACTICE",
                "warning",
                {"check": check, "current": current, "required": required, "rule_source": source},
                (evidence,),
            )
        )

    min_free = d.sysctl_int("vm.min_free_kbytes")
    needed = aerospike_min_free_kb(d)
    if min_free is not None and min_free < needed:
        origin = d.aerospike.source if d.aerospike else "Aerospike default stage size 1 GiB"
        add(
            "min_free_kbytes",
            min_free,
            f">= {needed}",
            Evidence(d.sysctl_source, {"vm.min_free_kbytes": min_free, "threshold_from": origin}),
        )
    swappiness = d.sysctl_int("vm.swappiness")
    if swappiness not in (None, 0):
        add("swappiness", swappiness, "0", _sysctl_evidence(d, "vm.swappiness"))
    zone_reclaim = d.sysctl_int("vm.zone_reclaim_mode")
    if zone_reclaim not in (None, 0):
        add("zone_reclaim_mode", zone_reclaim, "0", _sysctl_evidence(d, "vm.zone_reclaim_mode"))
    for name, value in (("thp_enabled", d.thp_enabled), ("thp_defrag", d.thp_defrag)):
        if value is not None and value not in AEROSPIKE_THP_ALLOWED:
            leaf = name.split("_")[1]
            add(
                name,
                value,
                "never or madvise",
                Evidence(f"sys/kernel/mm/transparent_hugepage/{leaf}", {leaf: value}),
            )
    max_map = d.sysctl_int("vm.max_map_count")
    if max_map is not None and max_map < AEROSPIKE_MAX_MAP_COUNT:
        add(
            "max_map_count",
            max_map,
            f">= {AEROSPIKE_MAX_MAP_COUNT}",
            _sysctl_evidence(d, "vm.max_map_count"),
        )
    somaxconn = d.sysctl_int("net.core.somaxconn")
    if somaxconn is not None and somaxconn < AEROSPIKE_SOMAXCONN:
        add(
            "somaxconn",
            somaxconn,
            f">= {AEROSPIKE_SOMAXCONN}",
            _sysctl_evidence(d, "net.core.somaxconn"),
        )
    return findings


RULES: tuple[Callable[[Diagnosis], list[Finding]], ...] = (
    rule_page_allocation_failures,
    rule_atomic_reserve_exhausted,
    rule_high_order_fragmentation,
    rule_cache_crowds_free_memory,
    rule_kswapd_falling_behind,
    rule_min_free_below_default,
    rule_min_free_too_high,
    rule_min_free_raised_by_thp,
    rule_setting_will_not_survive_reboot,
    rule_sysctl_conf_not_read,
    rule_zone_reclaim,
    rule_thp_defrag_always,
    rule_swappiness,
    rule_vfs_cache_pressure,
    rule_aerospike_best_practices,
)


def evaluate(d: Diagnosis) -> tuple[Finding, ...]:
    """Run every rule; findings sorted most severe first (stable within a severity)."""
    findings: list[Finding] = []
    for rule in RULES:
        findings.extend(rule(d))
    return tuple(sorted(findings, key=lambda f: f.rank))


def verdict(findings: Iterable[Finding]) -> Verdict:
    """``failing`` on a critical finding, ``at risk`` on a warning, else ``healthy``."""
    ordered = sorted(findings, key=lambda f: f.rank)
    if not ordered:
        return Verdict("healthy")
    top = ordered[0]
    if top.severity == "critical":
        return Verdict("failing", top)
    if top.severity == "warning":
        return Verdict("at risk", top)
    return Verdict("healthy", None)
