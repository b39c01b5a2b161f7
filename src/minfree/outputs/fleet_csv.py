"""``minfree fleet --csv``: one line per host, for spreadsheets.

``failures_by_order`` is ``order:count`` pairs joined by ``;`` and ``findings`` keys joined by
``;`` so that every host stays one line.

    >>> print(render_csv([{"host": "a", "path": "/b/a", "verdict": "failing",
    ...   "failures": {"total": 2, "by_order": {"1": 2}}, "min_free_kbytes": 67584,
    ...   "recommended_min_free_kbytes": None, "target_min_free_kbytes": 67584,
    ...   "findings": ["PAGE_ALLOCATION_FAILURES"], "error": None}]).splitlines()[1])
    a,/b/a,failing,2,1:2,67584,,67584,,,PAGE_ALLOCATION_FAILURES,
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

COLUMNS: tuple[str, ...] = (
    "host", "path", "verdict", "failures_total", "failures_by_order", "min_free_kbytes",
    "recommended_min_free_kbytes", "target_min_free_kbytes", "memory_total_kb",
    "kernel_release", "findings", "error",
)


def csv_row(row: Mapping[str, Any]) -> list[str]:
    failures = row.get("failures") or {}
    values = {
        **row,
        "failures_total": failures.get("total", 0),
        "failures_by_order": ";".join(f"{k}:{v}" for k, v in
                                      (failures.get("by_order") or {}).items()),
        "findings": ";".join(row.get("findings") or ()),
    }
    return ["" if values.get(c) is None else str(values.get(c)) for c in COLUMNS]


def render_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(csv_row(row))
    return out.getvalue()
