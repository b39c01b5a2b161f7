"""The words for every finding key: one summary line with its numbers, and why it matters.

Findings are data (:mod:`minfree.analysis.findings`); this module is the only place that
phrases them, so the text and JSON outputs say the same thing and the wording can change
without touching a rule. Every key in ``FINDING_KEYS`` must have an entry here (a test
checks it).

    >>> from minfree.analysis.findings import Finding
    >>> summary(Finding("MIN_FREE_BELOW_KERNEL_DEFAULT", "warning",
    ...                 {"current_kb": 1024, "default_kb": 16384}))
    'vm.min_free_kbytes is 1,024 kB, below the kernel default of 16,384 kB for this memory size'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from minfree.analysis.findings import Finding, Verdict


def fmt_kb(kb: int | float | None) -> str:
    """``1150976`` -> ``1,150,976 kB (1.1 GiB)``; small values without the binary unit.

    >>> fmt_kb(1150976), fmt_kb(512), fmt_kb(None)
    ('1,150,976 kB (1.1 GiB)', '512 kB', 'unknown')
    """
    if kb is None:
        return "unknown"
    kb = int(kb)
    text = f"{kb:,} kB"
    if abs(kb) >= 1 << 20:
        return f"{text} ({kb / (1 << 20):.1f} GiB)"
    if abs(kb) >= 10 << 10:
        return f"{text} ({kb / (1 << 10):.0f} MiB)"
    return text


def _orders(orders: Any) -> str:
    values = list(orders or [])
    return ", ".join(str(o) for o in values) if values else "?"


def _paf(p: Mapping[str, Any]) -> str:
    by_order = ", ".join(f"order {o}: {n}" for o, n in p["by_order"].items())
    contexts = ", ".join(f"{c} ({n})" for c, n in list(p["by_context"].items())[:3])
    suppressed = f", {p['suppressed']:,} more hidden by rate limiting" if p["suppressed"] else ""
    return (
        f"{p['total']:,} page allocation failures in the kernel log ({by_order}{suppressed});"
        f" contexts: {contexts}"
    )


def _are(p: Mapping[str, Any]) -> str:
    zones = p.get("zones") or []
    closest = ""
    if zones:
        z = zones[0]
        short = f", {fmt_kb(z['deficit_kb'])} short" if z.get("deficit_kb") is not None else ""
        closest = (
            f" (closest zone {z['zone']}: {fmt_kb(z['free_kb'])} free, min "
            f"{fmt_kb(z['min_kb'])}{short} once lowmem_reserve is counted)"
        )
    which = (
        "the part of the reserve atomic callers may use" if p.get("atomic") else "the min watermark"
    )
    return (
        f"{p['reports']:,} failure report(s) of order {_orders(p['orders'])} happened with "
        f"free memory under {which} in every allowed zone{closest}"
    )


def _hof(p: Mapping[str, Any]) -> str:
    if p.get("at") == "failure":
        return (
            f"{p['reports']:,} failure(s) of order {_orders(p['orders'])} had enough free "
            "memory but no free block of that order: memory is fragmented"
        )
    index = p.get("unusable_index")
    index_text = f", unusable free space index {index:.3f}" if index is not None else ""
    return (
        f"{p['zone']} (node {p['node']}) has {fmt_kb(p['free_kb'])} free, above its high "
        f"watermark, but its largest free block is order {p['highest_free_order']} "
        f"(order {_orders(p['orders'])} wanted{index_text})"
    )


def _ccfm(p: Mapping[str, Any]) -> str:
    if p.get("at") == "failure":
        return (
            f"at failure time {p['zone']} had {fmt_kb(p['free_kb'])} free (low watermark "
            f"{fmt_kb(p['low_kb'])}) while {fmt_kb(p['file_cache_kb'])} sat in the page "
            "cache: reclaim could not keep up, and atomic callers cannot wait for it"
        )
    return (
        f"free memory is {fmt_kb(p['free_kb'])}, near the watermarks (high sum "
        f"{fmt_kb(p['high_sum_kb'])}), while the page cache holds "
        f"{fmt_kb(p['file_cache_kb'])} ({p['cache_percent']}% of RAM): the classic set-up "
        "for atomic allocation failures"
    )


def _kfb(p: Mapping[str, Any]) -> str:
    return (
        f"over {p['interval_s']:g} s: {p['allocstall']:,} direct-reclaim stalls, "
        f"{p['pgscan_direct']:,} pages scanned directly, kswapd woken at low and hit min "
        f"quickly {p['kswapd_low_wmark_hit_quickly']:,} times; allocations run at "
        f"{fmt_kb(p['allocation_rate_kb_s'])}/s"
    )


def _mfbd(p: Mapping[str, Any]) -> str:
    return (
        f"vm.min_free_kbytes is {p['current_kb']:,} kB, below the kernel default of "
        f"{p['default_kb']:,} kB for this memory size"
    )


def _mfth(p: Mapping[str, Any]) -> str:
    if p.get("reason") == "share":
        return (
            f"vm.min_free_kbytes is {fmt_kb(p['current_kb'])}, {p['percent_of_ram']}% of "
            f"RAM (more than {p['limit_percent']:g}%): memory kept free that applications "
            "cannot use, and an OOM risk"
        )
    return (
        f"the high watermarks hold {fmt_kb(p['high_sum_kb'])} while only "
        f"{fmt_kb(p['available_kb'])} is available: the reserve leaves little room before "
        "the OOM killer"
    )


def _mfrt(p: Mapping[str, Any]) -> str:
    if p.get("configured_kb") is not None and p["configured_kb"] < p["thp_kb"]:
        return (
            f"the configured {p['configured_kb']:,} kB is overridden: with THP "
            f"'{p['thp_enabled']}', khugepaged raises vm.min_free_kbytes to "
            f"{p['thp_kb']:,} kB"
        )
    return (
        f"vm.min_free_kbytes is {p['current_kb']:,} kB because THP is '{p['thp_enabled']}':"
        f" khugepaged raised it from the default of "
        f"{'?' if p['default_kb'] is None else format(p['default_kb'], ',')} kB"
    )


def _swnsr(p: Mapping[str, Any]) -> str:
    where = p.get("boot_from") or (
        "the kernel default" if p.get("boot_is_kernel_default") else "the boot configuration"
    )
    return f"{p['sysctl']} is {p['runtime']} now, but the next boot sets {p['boot']} (from {where})"


def _scnrab(p: Mapping[str, Any]) -> str:
    if p.get("keys"):
        return (
            "systemd-sysctl does not read /etc/sysctl.conf here (no 99-sysctl.conf link), so "
            f"its settings ({', '.join(p['keys'][:5])}) are not applied at boot"
        )
    return (
        "systemd-sysctl does not read /etc/sysctl.conf here (no 99-sysctl.conf link): "
        "anything added there will not survive a reboot"
    )


def _zre(p: Mapping[str, Any]) -> str:
    return (
        f"vm.zone_reclaim_mode is {p['zone_reclaim_mode']} on a {p['numa_nodes']}-node host: "
        "the kernel reclaims page cache on the local node instead of using free memory "
        "on the others"
    )


def _tda(p: Mapping[str, Any]) -> str:
    return (
        "THP defrag is 'always': every huge page fault may compact memory directly, "
        "stalling the allocating task"
    )


def _swp(p: Mapping[str, Any]) -> str:
    if p["problem"] == "zero_with_swap":
        return (
            "vm.swappiness is 0 with swap configured: since 3.5 the kernel then prefers the "
            "OOM killer to swapping anonymous memory"
        )
    return (
        f"vm.swappiness is {p['swappiness']}: the kernel swaps application memory rather "
        "than dropping page cache"
    )


def _vcp(p: Mapping[str, Any]) -> str:
    value = p["vfs_cache_pressure"]
    if p["problem"] == "zero":
        return "vm.vfs_cache_pressure is 0: dentries and inodes are never reclaimed (OOM risk)"
    if p["problem"] == "low":
        return (
            f"vm.vfs_cache_pressure is {value}: dentry and inode caches are kept over page "
            "cache and can crowd out free memory"
        )
    return (
        f"vm.vfs_cache_pressure is {value}: far above 100, reclaim of dentries and inodes "
        "costs lock contention"
    )


_AEROSPIKE_CHECKS = {
    "min_free_kbytes": "vm.min_free_kbytes",
    "swappiness": "vm.swappiness",
    "zone_reclaim_mode": "vm.zone_reclaim_mode",
    "thp_enabled": "THP enabled",
    "thp_defrag": "THP defrag",
    "max_map_count": "vm.max_map_count",
    "somaxconn": "net.core.somaxconn",
}


def _abp(p: Mapping[str, Any]) -> str:
    name = _AEROSPIKE_CHECKS.get(p["check"], p["check"])
    return (
        f"Aerospike best practice: {name} is {p['current']}, Aerospike requires "
        f"{p['required']} (asd logs 'failed best-practices' and refuses to start with "
        "enforce-best-practices)"
    )


SUMMARIES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "PAGE_ALLOCATION_FAILURES": _paf,
    "ATOMIC_RESERVE_EXHAUSTED": _are,
    "HIGH_ORDER_FRAGMENTATION": _hof,
    "CACHE_CROWDS_FREE_MEMORY": _ccfm,
    "KSWAPD_FALLING_BEHIND": _kfb,
    "MIN_FREE_BELOW_KERNEL_DEFAULT": _mfbd,
    "MIN_FREE_TOO_HIGH": _mfth,
    "MIN_FREE_RAISED_BY_THP": _mfrt,
    "SETTING_WILL_NOT_SURVIVE_REBOOT": _swnsr,
    "SYSCTL_CONF_NOT_READ_AT_BOOT": _scnrab,
    "ZONE_RECLAIM_ENABLED": _zre,
    "THP_DEFRAG_ALWAYS": _tda,
    "SWAPPINESS": _swp,
    "VFS_CACHE_PRESSURE": _vcp,
    "AEROSPIKE_BEST_PRACTICE": _abp,
}

#: Short titles for the verdict line ("failing: <title>").
TITLES: dict[str, str] = {
    "PAGE_ALLOCATION_FAILURES": "the kernel is failing page allocations",
    "ATOMIC_RESERVE_EXHAUSTED": "atomic allocations ran out of reserve",
    "HIGH_ORDER_FRAGMENTATION": "memory is too fragmented for the orders requested",
    "CACHE_CROWDS_FREE_MEMORY": "the page cache leaves free memory at the watermarks",
    "KSWAPD_FALLING_BEHIND": "kswapd is falling behind: tasks reclaim memory themselves",
    "MIN_FREE_BELOW_KERNEL_DEFAULT": "the reserve is below the kernel default",
    "MIN_FREE_TOO_HIGH": "the reserve is so high it risks OOM",
    "MIN_FREE_RAISED_BY_THP": "khugepaged raised the reserve",
    "SETTING_WILL_NOT_SURVIVE_REBOOT": "a setting will not survive a reboot",
    "SYSCTL_CONF_NOT_READ_AT_BOOT": "/etc/sysctl.conf is not applied at boot",
    "ZONE_RECLAIM_ENABLED": "zone reclaim is on",
    "THP_DEFRAG_ALWAYS": "THP defrag is 'always'",
    "SWAPPINESS": "vm.swappiness fights the workload",
    "VFS_CACHE_PRESSURE": "vm.vfs_cache_pressure fights the workload",
    "AEROSPIKE_BEST_PRACTICE": "Aerospike best practices are not met",
}


def summary(finding: Finding) -> str:
    """One line in plain words with the finding's numbers."""
    render = SUMMARIES.get(finding.key)
    if render is None:
        return f"{finding.key}: {dict(finding.params)}"
    try:
        return render(finding.params)
    except (KeyError, TypeError, ValueError):
        # A rule that changed its params must not break the report: fall back to raw data.
        return f"{TITLES.get(finding.key, finding.key)}: {dict(finding.params)}"


def _detail(finding: Finding) -> str:
    """A few words of numbers after the verdict's title (empty when the title says it all)."""
    p = finding.params
    try:
        if finding.key == "PAGE_ALLOCATION_FAILURES":
            orders = ", ".join(f"order {o}" for o in p["by_order"])
            return f" ({p['total']:,}: {orders}; {', '.join(p['processes'][:3])})"
        if finding.key == "SETTING_WILL_NOT_SURVIVE_REBOOT":
            return f" ({p['sysctl']} {p['runtime']} -> {p['boot']})"
        if finding.key == "MIN_FREE_TOO_HIGH":
            return f" ({p['percent_of_ram']}% of RAM)"
    except (KeyError, TypeError):
        return ""
    return ""


def verdict_line(verdict: Verdict) -> str:
    """``failing: the kernel is failing page allocations (2: order 1; cld, asd)`` and the like.

    >>> from minfree.analysis.findings import Verdict
    >>> verdict_line(Verdict("healthy"))
    'healthy: no page allocation failures and no risky setting found'
    """
    if verdict.reason is None:
        return f"{verdict.status}: no page allocation failures and no risky setting found"
    title = TITLES.get(verdict.reason.key, verdict.reason.key)
    return f"{verdict.status}: {title}{_detail(verdict.reason)}"
