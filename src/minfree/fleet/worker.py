"""The doctor on one bundle, as one flat row (runs on Dask workers; never raises).

A row is plain JSON data (it crosses process and machine boundaries):

``host``, ``path``, ``verdict`` (``healthy``/``at risk``/``failing``, None on error),
``reason``, ``failures`` (``total`` reports and ``by_order``), ``min_free_kbytes`` (today),
``recommended_min_free_kbytes`` (the doctor's recommendation, None when no change is
recommended), ``target_min_free_kbytes`` (the largest supported sizing rule after caps, what
today's value is measured against), ``findings`` (keys, most severe first), ``settings``
(the vm settings the doctor reads), ``memory_total_kb``, ``kernel_release``, ``error``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from minfree.errors import MinfreeError

#: Files that name the host inside a bundle, first found wins (sosreport, root, /proc).
HOSTNAME_FILES: tuple[str, ...] = (
    "hostname", "sos_commands/general/hostname", "etc/hostname", "proc/sys/kernel/hostname",
)


def host_name(root: Any, default: str) -> str:
    """The host's name as the bundle records it, else ``default`` (the bundle's name)."""
    for rel in HOSTNAME_FILES:
        try:
            text = root.read_text(rel)
        except (OSError, ValueError):
            continue
        if text:
            first = text.strip().splitlines()[0].strip() if text.strip() else ""
            if first and len(first) <= 253 and " " not in first:
                return first
    return default


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(str(value).split()[0])
    except (ValueError, IndexError):
        return None


def error_row(path: str, name: str, error: str) -> dict[str, Any]:
    """The row of a bundle that could not be read."""
    return {
        "host": name, "path": path, "verdict": None, "reason": None,
        "failures": {"total": 0, "by_order": {}}, "min_free_kbytes": None,
        "recommended_min_free_kbytes": None, "target_min_free_kbytes": None,
        "findings": [], "settings": {}, "memory_total_kb": None, "kernel_release": None,
        "error": error,
    }


def row_from_document(path: str, host: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The fleet row for a doctor document (schema ``minfree.doctor/1``)."""
    by_order: dict[str, int] = {}
    for group in doc.get("failures") or ():
        key = str(group.get("order"))
        by_order[key] = by_order.get(key, 0) + int(group.get("count") or 0)
    recommended = None
    for rec in doc.get("recommendations") or ():
        if rec.get("sysctl") == "vm.min_free_kbytes":
            recommended = _int(rec.get("recommended"))
    settings = dict(doc.get("settings") or {})
    return {
        "host": host,
        "path": path,
        "verdict": doc["verdict"]["status"],
        "reason": doc["verdict"].get("reason"),
        "failures": {"total": sum(by_order.values()),
                     "by_order": dict(sorted(by_order.items(), key=lambda kv: int(kv[0])))},
        "min_free_kbytes": _int(settings.get("vm.min_free_kbytes")),
        "recommended_min_free_kbytes": recommended,
        "target_min_free_kbytes": (doc.get("chosen") or {}).get("min_free_kbytes"),
        "findings": [f["key"] for f in doc.get("findings") or ()],
        "settings": settings,
        "memory_total_kb": (doc.get("memory") or {}).get("total_kb"),
        "kernel_release": (doc.get("host") or {}).get("kernel_release"),
        "error": None,
    }


def doctor_row(path: str, name: str | None = None, profile: str = "generic") -> dict[str, Any]:
    """Run the doctor on one bundle and return its row; any failure becomes the row's error."""
    name = name or os.path.basename(os.path.normpath(path))
    try:
        from minfree.analysis.findings import evaluate
        from minfree.outputs.doctor_json import doctor_document
        from minfree.recommend import recommend
        from minfree.sources.root import open_root

        root = open_root(path)
        if root.is_live:
            return error_row(path, name, "the live host is not a bundle")
        from minfree.outputs.doctor_json import diagnose_root

        diagnosis = diagnose_root(root, interval_s=None, profile=profile)
        if diagnosis.memory is None and not diagnosis.zones and not diagnosis.sysctl:
            return error_row(path, name, "no memory state found (no proc/meminfo, "
                                         "proc/zoneinfo or sysctl values)")
        findings = evaluate(diagnosis)
        doc = doctor_document(diagnosis, findings, recommend(diagnosis, findings))
        return row_from_document(path, host_name(root, name), doc)
    except MinfreeError as error:
        return error_row(path, name, str(error))
    except Exception as error:
        return error_row(path, name, f"{type(error).__name__}: {error}".splitlines()[0])


def doctor_rows(batch: Sequence[tuple[str, str]], profile: str = "generic") -> list[dict]:
    """Rows for a batch of (path, name): one Dask task per batch keeps scheduling cheap."""
    return [doctor_row(path, name, profile) for path, name in batch]
