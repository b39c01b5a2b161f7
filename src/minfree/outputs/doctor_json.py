"""The doctor's JSON document (schema ``minfree.doctor/1``, see docs/doctor-json.md).

The report, fleet and exporter commands reuse this document, so it is built in one place
and versioned: fields are only ever added within a major version.

    >>> from minfree.analysis.diagnosis import Diagnosis
    >>> doc = doctor_document(Diagnosis(label="t", release=None))
    >>> doc["schema"], doc["verdict"]["status"], doc["findings"], doc["failures"]
    ('minfree.doctor/1', 'healthy', [], [])
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from minfree.analysis.diagnosis import Diagnosis
from minfree.analysis.findings import Finding, evaluate, verdict
from minfree.outputs.findings_text import summary, verdict_line
from minfree.recommend import RecommendationSet, recommend

SCHEMA = "minfree.doctor/1"


def jsonable(value: Any) -> Any:
    """Plain JSON types from dataclasses, mappings, tuples and sets (recursively)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def finding_json(f: Finding) -> dict[str, Any]:
    return {
        "key": f.key,
        "severity": f.severity,
        "summary": summary(f),
        "params": jsonable(f.params),
        "evidence": [{"source": e.source, "values": jsonable(e.values)} for e in f.evidence],
    }


def _zones(d: Diagnosis) -> list[dict[str, Any]]:
    out = []
    for z in d.populated_zones:
        out.append({
            "node": z.node, "zone": z.name,
            "free_kb": d.pages_to_kb(z.free_pages),
            "min_kb": d.pages_to_kb(z.min_pages),
            "low_kb": d.pages_to_kb(z.low_pages),
            "high_kb": d.pages_to_kb(z.high_pages),
            "managed_kb": None if z.managed_pages is None else d.pages_to_kb(z.managed_pages),
            "highest_free_order": z.highest_free_order(),
        })
    return out


def doctor_document(
    d: Diagnosis,
    findings: Sequence[Finding] | None = None,
    recs: RecommendationSet | None = None,
    *,
    allow_high: bool = False,
) -> dict[str, Any]:
    """The whole doctor result as JSON-ready data."""
    from minfree import __version__

    findings = tuple(findings) if findings is not None else evaluate(d)
    recs = recs if recs is not None else recommend(d, findings, allow_high=allow_high)
    v = verdict(findings)
    mem = d.memory
    cost = None
    if recs.cost is not None:
        cost = {
            "min_free_kbytes": recs.cost.min_free_kb,
            "memory_taken_from_applications_kb": recs.cost.cost_kb,
            "atomic_reserve_gain_kb": recs.cost.atomic_reserve_gain_kb,
            "kswapd_head_start_gain_kb": recs.cost.kswapd_head_start_gain_kb,
            "high_watermarks_now_kb": recs.cost.high_sum_now_kb,
            "high_watermarks_new_kb": recs.cost.high_sum_new_kb,
            "predicted_by": recs.cost.predicted_by,
        }
    return {
        "schema": SCHEMA,
        "minfree_version": __version__,
        "host": {
            "label": d.label,
            "kernel_release": d.release,
            "page_size_bytes": d.page_size_bytes,
            "numa_nodes": d.numa_nodes,
            "profile": d.profile,
        },
        "verdict": {
            "status": v.status,
            "reason": verdict_line(v),
            "finding": v.reason.key if v.reason else None,
        },
        "failures": [
            {
                "process": g.process, "order": g.order, "mode": g.mode, "context": g.context,
                "count": g.count, "suppressed": g.suppressed, "first_seen": g.first_seen,
                "last_seen": g.last_seen, "verdict": g.verdict, "atomic": g.atomic,
                "deficit_kb": g.deficit_kb, "sources": list(g.sources), "advice": g.advice,
            }
            for g in d.failures
        ],
        "memory": {
            "total_kb": mem.total_kb if mem else None,
            "free_kb": mem.free_kb if mem else None,
            "available_kb": mem.available_kb if mem else None,
            "file_cache_kb": mem.file_cache_kb if mem else None,
            "zones": _zones(d),
        },
        "settings": {k: d.sysctl.get(k) for k in (
            "vm.min_free_kbytes", "vm.watermark_scale_factor", "vm.watermark_boost_factor",
            "vm.swappiness", "vm.vfs_cache_pressure", "vm.zone_reclaim_mode")}
        | {"thp_enabled": d.thp_enabled, "thp_defrag": d.thp_defrag},
        "findings": [finding_json(f) for f in findings],
        "recommendations": [
            {"sysctl": r.sysctl, "current": r.current, "recommended": r.recommended,
             "kind": r.kind, "reasons": list(r.reasons), "sources": list(r.sources),
             "applicable": r.applicable}
            for r in recs.recommendations
        ],
        "apply_command": recs.apply_command(),
        "cost": cost,
        "candidates": {c.rule: c.kb for c in recs.candidates},
        "candidate_details": [
            {"rule": c.rule, "kb": c.kb, "formula": c.formula, "inputs": jsonable(c.inputs),
             "supported": c.supported, "why": c.why, "sources": list(c.sources)}
            for c in recs.candidates
        ],
        "chosen": {"min_free_kbytes": recs.chosen_kb, "rule": recs.chosen_rule,
                   "cap_kb": recs.cap_kb, "capped_by": recs.capped_by,
                   "notes": list(recs.notes)},
        "missing": [{"what": m.what, "reason": m.reason} for m in d.missing],
    }


def render_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def diagnose_root(
    root: Any = None,
    *,
    logs: Sequence[str] | None = None,
    interval_s: float | None = None,
    profile: str = "generic",
    aerospike_conf: str | None = None,
    vmstat_second: str | None = None,
    sleep: Any = None,
) -> Diagnosis:
    """Read a root and diagnose it: the two halves of the doctor's pipeline in one call.

    Reading is :func:`minfree.sources.host_inputs.collect_host_inputs` (same arguments),
    the pure part :func:`minfree.analysis.diagnosis.diagnose`. ``doctor``, ``recommend``,
    ``apply ... recommended``, ``report``, ``fleet`` and the exporter all start here, so
    they see one host the same way.
    """
    from minfree.analysis.diagnosis import diagnose
    from minfree.sources.host_inputs import collect_host_inputs

    return diagnose(collect_host_inputs(
        root, logs=logs, interval_s=interval_s, profile=profile, aerospike_conf=aerospike_conf,
        vmstat_second=vmstat_second, sleep=sleep))


def run_doctor(
    root: Any = None,
    *,
    logs: Sequence[str] | None = None,
    interval_s: float | None = 0.0,
    profile: str = "generic",
    aerospike_conf: str | None = None,
    allow_high: bool = False,
) -> dict[str, Any]:
    """The doctor document for a root in one call (for ``report``, ``fleet``, ``exporter``).

    ``root``: None or "/" (this host), a directory, a sosreport or a tarball. The live host
    is sampled once unless ``interval_s`` > 0. Raises :class:`minfree.errors.MinfreeError`
    only for unusable explicit inputs (a root that does not exist, unreadable ``logs``).
    """
    d = diagnose_root(root, logs=logs, interval_s=interval_s, profile=profile,
                      aerospike_conf=aerospike_conf)
    findings = evaluate(d)
    return doctor_document(d, findings, recommend(d, findings, allow_high=allow_high))
