"""The simulator's one doorway to :mod:`minfree.kernel`: watermarks, default reserve, GFP.

Nothing here re-implements a kernel formula. It calls
:func:`minfree.kernel.watermarks.compute_watermarks` for min/low/high and the protection
rows, :mod:`minfree.kernel.min_free` for the kernel's own default reserve and
:func:`minfree.kernel.gfp.decode_gfp` for the ALLOC flags a GFP mode gets in the host's
era, and hands the engines plain integers.
"""

from __future__ import annotations

from minfree.errors import UsageError
from minfree.kernel.alloc_flags import AllocFlags
from minfree.kernel.release import KernelRelease
from minfree.simulation.host import SimHost


def _release(host_release: str) -> KernelRelease | None:
    return KernelRelease.try_parse(host_release)


def _gfp_era(host_release: str):
    """The GFP bit layout of the host's era; the newest layout when the release is unknown."""
    from minfree.kernel import gfp as gfp_module

    parsed = _release(host_release)
    return gfp_module.era_for_release(parsed)[0] if parsed else gfp_module.get_era("6.3")


def watermarks_for(host: SimHost, min_free_kbytes: int, watermark_scale_factor: int):
    """``compute_watermarks`` for every zone of ``host`` (same order as ``host.zones``)."""
    from minfree.kernel.watermarks import compute_watermarks, detect_features

    zones = host.as_model_zones()
    features = detect_features(zones, release=_release(host.release))
    return compute_watermarks(
        zones, min_free_kbytes, watermark_scale_factor,
        page_size_bytes=host.page_size_bytes,
        lowmem_reserve_ratio=host.lowmem_reserve_ratio, features=features)


def default_min_free_kbytes(host: SimHost) -> int:
    """What the host's kernel sets by itself at boot: the square-root rule, raised by the
    THP rule while THP is enabled (kernel-facts §1; ``min_free.expected_min_free_kbytes``)."""
    from minfree.kernel import min_free

    expected = min_free.expected_min_free_kbytes(
        host.as_model_zones(), thp_enabled=host.thp_enabled,
        page_size_bytes=host.page_size_bytes, pageblock_order=host.pageblock_order,
        release=_release(host.release))
    return int(expected.kbytes)


#: The mask names a scenario may use, decoded per era by minfree.kernel.gfp.
def gfp_alloc_flags(gfp: str, release: str) -> tuple[int, str, int, bool]:
    """(mask, kernel-printed names, ALLOC flags of the slow path, can sleep) for a GFP mode
    written by name (``GFP_ATOMIC``, ``GFP_NOWAIT``, ``GFP_KERNEL``...) or as hex."""
    from minfree.kernel import gfp as gfp_module

    parsed = _release(release)
    if gfp.lower().startswith("0x"):
        try:
            mask = int(gfp, 16)
        except ValueError:
            raise UsageError(f"bad GFP mask {gfp!r}") from None
    else:
        era = _gfp_era(release)
        composite = era.composite(gfp)
        if composite is None:
            raise UsageError(f"GFP mode {gfp!r} does not exist in {era.label}")
        mask = composite
    decoded = gfp_module.decode_gfp(mask, parsed)
    return mask, decoded.names, int(decoded.alloc_flags), bool(decoded.can_sleep)


def fast_path_flags() -> int:
    """``get_page_from_freelist``'s first try uses ALLOC_WMARK_LOW without reserve discounts
    (ALLOC_CPUSET does not change the arithmetic)."""
    return int(AllocFlags.CPUSET)


def check_era_code(release: str) -> int:
    """The watermark-check era of ``release`` as the integer the compiled check takes."""
    from minfree.kernel import watermark_check

    return int(watermark_check.check_era_for(_release(release)))


def boost_exempt(gfp: str, release: str) -> bool:
    """Whether ``zone_watermark_fast()`` retries an order-0 failure of this mode against the
    unboosted MIN: ``__GFP_ATOMIC`` in the mask on 5.0 .. 6.2, ALLOC_MIN_RESERVE from 6.3
    (kernel-facts §3.5). Before 5.0 there is no boost at all."""
    from minfree.kernel import watermark_check

    mask, _, flags, _ = gfp_alloc_flags(gfp, release)
    era = watermark_check.check_era_for(_release(release))
    if era >= watermark_check.CheckEra.C:
        return bool(flags & AllocFlags.MIN_RESERVE)
    return bool(mask & _gfp_era(release).flag("ATOMIC"))


def gfp_migratetype(gfp: str, release: str) -> int:
    """The exact engine's migratetype (``buddy.MIGRATE_*``) for a GFP mode: its free lists,
    as ``gfp_migratetype()`` picks them in this host's era."""
    from minfree.kernel import gfp as gfp_module
    from minfree.kernel import watermark_check

    mask, _, _, _ = gfp_alloc_flags(gfp, release)
    era = _gfp_era(release)
    # the engine's free lists are numbered as the watermark check's type columns
    return watermark_check.MIGRATETYPE_COLUMNS.index(gfp_module.gfp_migratetype(mask, era))


def highatomic_reserve(alloc_flags: int, order: int, release: str) -> bool:
    """Whether an allocation with these slow-path ALLOC flags uses and makes highatomic
    reserves (4.4+): ``order && (alloc_flags & ALLOC_HARDER)`` in get_page_from_freelist()
    up to 6.2 (mm/page_alloc.c), ALLOC_HIGHATOMIC from 6.3 (set by gfp_to_alloc_flags() for
    ``order > 0`` callers that cannot reclaim, the ALLOC_NON_BLOCK ones). ALLOC_HARDER and
    ALLOC_NON_BLOCK are the same bit (0x10), which is what is tested."""
    parsed = _release(release)
    if order <= 0 or (parsed is not None and parsed < (4, 4)):
        return False
    return bool(alloc_flags & AllocFlags.HARDER)
