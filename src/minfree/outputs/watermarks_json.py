"""JSON form of ``minfree watermarks``: the per-zone watermarks the kernel would set.

``zones[]`` carries ``node``, ``zone``, ``managed``, ``min``, ``low``, ``high``, ``promo``
(pages; ``promo`` is null before 6.1), ``boost`` and ``protection`` for the requested settings,
and under ``zoneinfo`` the values as read from the same /proc/zoneinfo read the prediction
used, so a reader can check one against the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from minfree.kernel.watermarks import WatermarkComparison


def watermarks_as_dict(
    comparison: WatermarkComparison,
    *,
    source: str,
    kernel: str | None,
    missing: Sequence[Any] = (),
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The document ``minfree watermarks --json`` prints."""
    f = comparison.features
    zones = []
    for z, p in zip(comparison.zones, comparison.proposed, strict=True):
        entry = p.as_dict()
        entry["zoneinfo"] = {
            "managed": z.managed_pages,
            "present": z.present_pages,
            "min": z.min_pages,
            "low": z.low_pages,
            "high": z.high_pages,
            "promo": z.promo_pages,
            "boost": getattr(z, "boost_pages", None),
            "protection": list(z.protection_pages),
        }
        zones.append(entry)
    return {
        "source": source,
        "kernel": kernel,
        "page_size_bytes": comparison.page_size_bytes,
        "settings": {
            "min_free_kbytes": comparison.min_free_kbytes,
            "watermark_scale_factor": comparison.watermark_scale_factor,
            "current_min_free_kbytes": comparison.current_min_free_kbytes,
            "current_watermark_scale_factor": comparison.current_watermark_scale_factor,
            "changed": comparison.changed,
        },
        "formulas": {
            "era": f.era.value,
            "lowmem_reserve": f.lowmem_reserve.value,
            "movable_like_highmem": f.movable_like_highmem,
            "sizes": "managed" if f.uses_managed else "present",
            "extra_free_kbytes": f.extra_free_kbytes,
            "reasons": list(f.reasons),
        },
        "zones": zones,
        "today_matches_zoneinfo": comparison.current_matches_zoneinfo,
        "change": comparison.change.as_dict(comparison.page_size_bytes),
        "missing": [{"path": m.path, "reason": m.reason} for m in missing],
        "notes": list(comparison.assumptions) + list(notes),
    }
