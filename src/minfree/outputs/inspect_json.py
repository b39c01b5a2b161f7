"""The data of ``minfree inspect`` as one JSON-ready document (the text view renders it too).

Sections, in the order ``inspect`` shows them:

``memory``
    a ``free -m`` style summary from /proc/meminfo (MiB): total, used, free, shared,
    buff_cache, available; null when meminfo is missing.
``zones``
    per zone: free pages against min/low/high/promo (pages and MiB), the headroom to each
    (free - mark; negative = below), ``state`` (below_min, below_low, below_high, ok, empty),
    boost and protection (``lowmem_reserve``).
``fragmentation``
    per zone: free blocks per order, the kernel's unusable-free-space and fragmentation
    indices per order (mm/vmstat.c), the highest order with a free block and the free
    memory in blocks of order >= k.
``settings``
    the vm sysctls that shape reserves and reclaim, and the THP mode.
``min_free_kbytes``
    the current value next to the kernel's square-root default for this host, the value a
    runtime recalculation would give, and khugepaged's recommendation.
``reclaim``
    with ``--interval``: rates from two vmstat samples (:mod:`minfree.analysis.reclaim_activity`).
``missing`` / ``notes``
    what could not be read and why; how uncertain values were obtained.

The document is built from kernel-layer results; nothing is decided here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minfree.analysis.reclaim_activity import ReclaimActivity
    from minfree.model.host import HostSnapshot

#: The vm sysctls shown, in this order (those the host lacks are left out).
SETTINGS_SHOWN: tuple[str, ...] = (
    "vm.min_free_kbytes",
    "vm.watermark_scale_factor",
    "vm.watermark_boost_factor",
    "vm.extra_free_kbytes",
    "vm.lowmem_reserve_ratio",
    "vm.extfrag_threshold",
    "vm.compaction_proactiveness",
    "vm.swappiness",
    "vm.vfs_cache_pressure",
    "vm.zone_reclaim_mode",
    "vm.dirty_ratio",
    "vm.dirty_background_ratio",
    "vm.overcommit_memory",
    "vm.admin_reserve_kbytes",
    "vm.user_reserve_kbytes",
    "vm.percpu_pagelist_high_fraction",
    "vm.percpu_pagelist_fraction",
    "vm.defrag_mode",
)


def _mib(pages: int | None, page_size: int) -> float | None:
    return None if pages is None else round(pages * page_size / 1048576, 1)


def _kb_to_mib(kb: int | None) -> int | None:
    return None if kb is None else kb // 1024


def memory_summary(snapshot: HostSnapshot) -> dict[str, Any] | None:
    """``free -m``: total, used, free, shared, buff/cache, available (MiB, floor like free)."""
    info = snapshot.meminfo
    if info is None:
        return None
    return {
        "total": _kb_to_mib(info.total_kb),
        "used": _kb_to_mib(info.used_kb),
        "free": _kb_to_mib(info.free_kb),
        "shared": _kb_to_mib(info.shmem_kb),
        "buff_cache": _kb_to_mib(info.buff_cache_kb),
        "available": _kb_to_mib(info.available_kb),
        "swap_total": _kb_to_mib(info.swap_total_kb),
        "swap_free": _kb_to_mib(info.swap_free_kb),
    }


def _state(zone: Any) -> str:
    managed = zone.managed_pages if zone.managed_pages is not None else zone.present_pages
    if not managed:
        return "empty"
    if zone.free_pages <= zone.min_pages:
        return "below_min"
    if zone.free_pages <= zone.low_pages:
        return "below_low"
    if zone.free_pages <= zone.high_pages:
        return "below_high"
    return "ok"


def _normal_index(snapshot: HostSnapshot, node: int) -> int:
    """``gfp_zone(GFP_ATOMIC)``: ZONE_NORMAL's index (2 on x86_64, 1 on 32-bit without
    DMA32); the highest lowmem zone present when no Normal zone is listed."""
    best = -1
    for z in snapshot.zones:
        if z.node != node:
            continue
        if z.name == "Normal":
            return z.index
        if z.name in ("DMA", "DMA32"):
            best = max(best, z.index)
    return best


def zone_rows(snapshot: HostSnapshot) -> list[dict[str, Any]]:
    from minfree.kernel.watermark_check import atomic_floor_pages, check_era_for

    page = snapshot.page_size_bytes
    era = check_era_for(snapshot.release)
    rows = []
    for z in snapshot.zones:
        normal = _normal_index(snapshot, z.node)
        # Zones above ZONE_NORMAL (HighMem on 32-bit aside, Movable, Device) never serve
        # GFP_ATOMIC, so they have no floor.
        floor = atomic_floor_pages(z, era, normal) if 0 <= z.index <= normal else None
        marks = {"min": z.min_pages, "low": z.low_pages, "high": z.high_pages}
        if z.promo_pages is not None:
            marks["promo"] = z.promo_pages
        rows.append(
            {
                "node": z.node,
                "zone": z.name,
                "managed": z.managed_pages,
                "present": z.present_pages,
                "free": z.free_pages,
                "free_mib": _mib(z.free_pages, page),
                "boost": z.boost_pages,
                "watermarks": {
                    name: {
                        "pages": value,
                        "mib": _mib(value, page),
                        "headroom_pages": z.free_pages - value,
                        "headroom_mib": _mib(z.free_pages - value, page),
                    }
                    for name, value in marks.items()
                },
                "protection": list(z.protection_pages),
                # Order-0 GFP_ATOMIC passes while free > this (reduced min + protection
                # for ZONE_NORMAL + free CMA), kernel.watermark_check for this era.
                "gfp_atomic_floor": None
                if floor is None
                else {
                    "pages": floor,
                    "mib": _mib(floor, page),
                    "headroom_pages": z.free_pages - floor,
                    "headroom_mib": _mib(z.free_pages - floor, page),
                    "check_era": era.name,
                },
                "state": _state(z),
                "stat_threshold": z.stat_threshold_pages,
            }
        )
    return rows


def fragmentation_rows(snapshot: HostSnapshot) -> list[dict[str, Any]]:
    from minfree.kernel.fragmentation import zone_fragmentation

    page = snapshot.page_size_bytes
    rows = []
    for z in snapshot.zones:
        if z.free_blocks is None:
            continue
        frag = zone_fragmentation(z.free_blocks)
        entry = {"node": z.node, "zone": z.name, **frag.as_dict()}
        entry["free_mib_at_or_above"] = [_mib(p, page) for p in frag.free_pages_at_or_above]
        if z.free_blocks_by_migratetype:
            entry["free_blocks_by_migratetype"] = {
                name: list(counts) for name, counts in z.free_blocks_by_migratetype.items()
            }
        if z.capped_orders:
            entry["capped_orders"] = sorted(z.capped_orders)
        rows.append(entry)
    return rows


def settings_section(snapshot: HostSnapshot) -> dict[str, Any]:
    values = {key: snapshot.sysctl[key] for key in SETTINGS_SHOWN if key in snapshot.sysctl}
    return {
        "sysctl": values,
        "sysctl_source": snapshot.sysctl_source,
        "thp_enabled": snapshot.thp_enabled,
        "thp_defrag": snapshot.thp_defrag,
    }


def min_free_section(snapshot: HostSnapshot) -> dict[str, Any] | None:
    from minfree.kernel.min_free import (
        default_min_free_detail,
        expected_min_free_kbytes,
        thp_active,
    )

    if not snapshot.zones:
        return None
    page = snapshot.page_size_bytes
    release = snapshot.release
    boot = default_min_free_detail(snapshot.zones, page_size_bytes=page, release=release)
    # A live kernel that initialises memory lazily counts MemTotal in nr_free_buffer_pages()
    # while zoneinfo shows only the initialised part (measured on the 6.18 reference host:
    # its own recalculation logs isqrt(16 * (MemTotal - sum of HIGH) kB)). A container's
    # lxcfs view is the opposite (MemTotal below the zones) and is not used.
    lowmem_override = None
    lowmem_managed = sum(
        z.managed_pages or 0 for z in snapshot.zones if z.name in ("DMA", "DMA32", "Normal")
    )
    total_kb = snapshot.meminfo.total_kb if snapshot.meminfo is not None else None
    if snapshot.is_live and total_kb and total_kb // (page // 1024) > 1.1 * lowmem_managed:
        lowmem_override = total_kb // (page // 1024)
    runtime = default_min_free_detail(
        snapshot.zones,
        page_size_bytes=page,
        release=release,
        at_boot=False,
        lowmem_managed_pages=lowmem_override,
    )
    expected = expected_min_free_kbytes(
        snapshot.zones,
        thp_enabled=snapshot.thp_enabled,
        page_size_bytes=page,
        pageblock_order=snapshot.pageblock_order,
        release=release,
    )
    from minfree.kernel.watermarks import detect_features, implied_min_free_kbytes

    implied = implied_min_free_kbytes(
        snapshot.zoneinfo.zones if snapshot.zoneinfo is not None else snapshot.zones,
        features=detect_features(
            snapshot.zoneinfo.zones if snapshot.zoneinfo is not None else snapshot.zones,
            release=release,
            sysctl=snapshot.sysctl,
        ),
        page_size_bytes=page,
    )
    known = snapshot.thp_enabled is not None
    if known:
        would_hold: int | None = expected.kbytes
        rule = expected.rule
    else:
        # Without the THP mode the kernel's own value is one of two; say which two.
        would_hold = None
        rule = (
            f"THP mode not captured: {boot.kbytes} kB (sqrt default) without THP, "
            f"{max(boot.kbytes, expected.thp.kbytes)} kB with THP always/madvise"
        )
    return {
        "current": snapshot.min_free_kbytes,
        # The value the printed MIN watermarks were computed from (a range: each zone's
        # share is rounded down); differs from "current" when the sysctl was captured at
        # another moment than zoneinfo.
        "watermarks_imply": list(implied) if implied is not None else None,
        "kernel_default": boot.kbytes,
        "kernel_default_detail": {
            "lowmem_kbytes": boot.lowmem_kbytes,
            "unclamped_kbytes": boot.unclamped_kbytes,
            "cap_kbytes": boot.cap_kbytes,
            "cap_reason": boot.cap_reason,
        },
        "runtime_recalculation": runtime.kbytes,
        "runtime_recalculation_counts_memtotal": lowmem_override is not None,
        "thp_recommended": expected.thp.kbytes,
        "thp_detail": {
            "zones_counted": expected.thp.nr_zones,
            "pageblock_pages": expected.thp.pageblock_pages,
            "capped_at_5_percent": expected.thp.capped,
        },
        "thp_active": thp_active(snapshot.thp_enabled) if known else None,
        "kernel_would_hold": would_hold,
        "kernel_rule": rule,
    }


def build_inspect(
    snapshot: HostSnapshot, activity: ReclaimActivity | None = None
) -> dict[str, Any]:
    """The whole ``inspect`` document for a snapshot (and optional reclaim activity)."""
    return {
        "source": snapshot.label,
        "kernel": str(snapshot.release) if snapshot.release is not None else None,
        "page_size_bytes": snapshot.page_size_bytes,
        "memory": memory_summary(snapshot),
        "zones": zone_rows(snapshot),
        "fragmentation": fragmentation_rows(snapshot),
        "settings": settings_section(snapshot),
        "min_free_kbytes": min_free_section(snapshot),
        "reclaim": activity.as_dict() if activity is not None else None,
        "missing": [{"path": m.path, "reason": m.reason} for m in snapshot.missing],
        "notes": list(snapshot.notes),
    }
