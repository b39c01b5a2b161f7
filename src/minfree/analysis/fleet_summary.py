"""What a fleet's doctor rows say together (pure: rows in, summary out).

Rows are those of :mod:`minfree.fleet.worker` (``host``, ``verdict``, ``failures``,
``min_free_kbytes``, ``target_min_free_kbytes``, ``settings``, ``error``...). The summary
answers three questions:

- how many hosts fail, are at risk, are healthy, could not be read;
- how today's reserves compare with what the doctor would choose (``ratio`` = today's
  ``min_free_kbytes`` / the target: below 1 the host runs a smaller reserve than its largest
  supported sizing rule), as quantiles and the hosts furthest below;
- which hosts run vm settings that differ from the fleet's majority. ``min_free_kbytes`` is
  not compared: it should differ with memory size (the reserve spread covers it).

    >>> rows = [
    ...   {"host": "a", "verdict": "failing", "error": None, "min_free_kbytes": 100,
    ...    "target_min_free_kbytes": 200, "failures": {"total": 2, "by_order": {"1": 2}},
    ...    "settings": {"vm.swappiness": "60"}},
    ...   {"host": "b", "verdict": "healthy", "error": None, "min_free_kbytes": 300,
    ...    "target_min_free_kbytes": 300, "failures": {"total": 0, "by_order": {}},
    ...    "settings": {"vm.swappiness": "60"}},
    ...   {"host": "c", "verdict": "healthy", "error": None, "min_free_kbytes": 300,
    ...    "target_min_free_kbytes": 300, "failures": {"total": 0, "by_order": {}},
    ...    "settings": {"vm.swappiness": "1"}},
    ...   {"host": "d", "verdict": None, "error": "corrupt", "settings": {}},
    ... ]
    >>> s = summarize(rows)
    >>> s["hosts"], s["failing"], s["healthy"], s["errors"], s["below_target"]
    (4, 1, 2, 1, 1)
    >>> s["settings"]["vm.swappiness"]["majority"], s["hosts_with_differing_settings"]
    ('60', ['c'])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

#: Settings compared with the fleet's majority (keys of the doctor document's ``settings``).
COMPARED_SETTINGS: tuple[str, ...] = (
    "vm.watermark_scale_factor",
    "vm.watermark_boost_factor",
    "vm.swappiness",
    "vm.vfs_cache_pressure",
    "vm.zone_reclaim_mode",
    "thp_enabled",
    "thp_defrag",
)

#: How many of the hosts furthest below their target the summary names.
WORST_HOSTS = 10


def quantile(sorted_values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated quantile of already sorted values (None when empty).

    >>> quantile([1, 2, 3, 4], 0.5)
    2.5
    """
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * q
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def _majority(values: Counter) -> Any:
    # The most common value; ties go to the smallest text so the answer is reproducible.
    best = max(values.values())
    return min((v for v, n in values.items() if n == best), key=str)


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The fleet summary (see the module docstring) as JSON-ready data."""
    read = [r for r in rows if not r.get("error")]
    verdicts = Counter(r.get("verdict") for r in read)
    by_order: Counter = Counter()
    failing_hosts = 0
    for r in read:
        failures = r.get("failures") or {}
        if failures.get("total"):
            failing_hosts += 1
        for order, n in (failures.get("by_order") or {}).items():
            by_order[str(order)] += int(n)

    ratios = []
    for r in read:
        now, target = r.get("min_free_kbytes"), r.get("target_min_free_kbytes")
        if now is not None and target:
            ratios.append((now / target, r["host"], now, target))
    ratios.sort(key=lambda t: (t[0], t[1]))
    values = [t[0] for t in ratios]
    spread = {
        "hosts": len(ratios),
        "min": quantile(values, 0.0), "p10": quantile(values, 0.1),
        "median": quantile(values, 0.5), "p90": quantile(values, 0.9),
        "max": quantile(values, 1.0),
    }
    spread = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in spread.items()}

    settings: dict[str, Any] = {}
    differing: set[str] = set()
    for key in COMPARED_SETTINGS:
        counts: Counter = Counter()
        for r in read:
            value = (r.get("settings") or {}).get(key)
            if value is not None:
                counts[str(value)] += 1
        if len(counts) == 0:
            continue
        majority = _majority(counts)
        deviants = sorted(
            ({"host": r["host"], "value": str((r.get("settings") or {}).get(key))}
             for r in read
             if (r.get("settings") or {}).get(key) is not None
             and str((r.get("settings") or {}).get(key)) != majority),
            key=lambda d: d["host"])
        differing.update(d["host"] for d in deviants)
        settings[key] = {"majority": majority, "hosts_with_majority": counts[majority],
                         "hosts_known": sum(counts.values()), "values": dict(counts),
                         "deviants": deviants}

    return {
        "hosts": len(rows),
        "read": len(read),
        "errors": len(rows) - len(read),
        "failing": verdicts.get("failing", 0),
        "at_risk": verdicts.get("at risk", 0),
        "healthy": verdicts.get("healthy", 0),
        "hosts_with_failures": failing_hosts,
        "failures_by_order": dict(sorted(by_order.items(), key=lambda kv: int(kv[0]))),
        "failures_total": sum(by_order.values()),
        "with_recommendation": sum(1 for r in read
                                   if r.get("recommended_min_free_kbytes") is not None),
        "below_target": sum(1 for t in ratios if t[0] < 1),
        "reserve_to_target_ratio": spread,
        "furthest_below_target": [
            {"host": host, "min_free_kbytes": now, "target_min_free_kbytes": target,
             "ratio": round(ratio, 4)}
            for ratio, host, now, target in ratios[:WORST_HOSTS] if ratio < 1],
        "settings": settings,
        "hosts_with_differing_settings": sorted(differing),
        "error_hosts": sorted(r["host"] for r in rows if r.get("error")),
    }
