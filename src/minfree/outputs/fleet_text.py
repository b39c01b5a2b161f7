"""``minfree fleet`` as text: one line per host, then the fleet summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def render_text(rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Any],
                *, max_rows: int | None = None) -> str:
    """Host table and summary, plain text (no colour: it is often piped or mailed)."""
    lines = []
    width = max([4, *(len(str(r.get("host"))) for r in rows)])
    width = min(width, 40)
    lines.append(f"{'host':{width}}  {'verdict':8}  {'failures':>8}  {'by order':12}  "
                 f"{'min_free_kb':>11}  {'recommended':>11}  findings / error")
    shown = rows if max_rows is None else rows[:max_rows]
    for r in shown:
        failures = r.get("failures") or {}
        orders = ",".join(f"{k}:{v}" for k, v in (failures.get("by_order") or {}).items())
        tail = f"ERROR {r['error']}" if r.get("error") else ", ".join(r.get("findings") or ())
        lines.append(
            f"{str(r.get('host'))[:width]:{width}}  {r.get('verdict') or 'error':8}  "
            f"{failures.get('total', 0):>8}  {orders or '-':12}  "
            f"{_num(r.get('min_free_kbytes')):>11}  "
            f"{_num(r.get('recommended_min_free_kbytes')):>11}  {tail}")
    if max_rows is not None and len(rows) > max_rows:
        lines.append(f"... {len(rows) - max_rows} more hosts (--json or --csv for all)")
    s = summary
    lines.append("")
    lines.append(f"Fleet: {s['hosts']} hosts: {s['failing']} failing, {s['at_risk']} at risk, "
                 f"{s['healthy']} healthy, {s['errors']} unreadable")
    if s["failures_total"]:
        orders = ", ".join(f"order {k}: {v}" for k, v in s["failures_by_order"].items())
        lines.append(f"  {s['failures_total']} page allocation failure reports on "
                     f"{s['hosts_with_failures']} hosts ({orders})")
    spread = s["reserve_to_target_ratio"]
    if spread["hosts"]:
        lines.append(
            f"  min_free_kbytes / doctor's target over {spread['hosts']} hosts: min "
            f"{spread['min']:.2f}, p10 {spread['p10']:.2f}, median {spread['median']:.2f}, "
            f"p90 {spread['p90']:.2f}, max {spread['max']:.2f}; {s['below_target']} below "
            f"target, {s['with_recommendation']} with a recommendation")
        for w in s["furthest_below_target"][:5]:
            lines.append(f"    {w['host']}: {w['min_free_kbytes']:,} kB of "
                         f"{w['target_min_free_kbytes']:,} kB ({w['ratio']:.2f})")
    for key, info in s["settings"].items():
        if info["deviants"]:
            names = ", ".join(f"{d['host']}={d['value']}" for d in info["deviants"][:8])
            more = len(info["deviants"]) - 8
            lines.append(f"  {key}: {info['hosts_with_majority']} of {info['hosts_known']} "
                         f"hosts use {info['majority']}; differ: {names}"
                         + (f" (+{more} more)" if more > 0 else ""))
    if s["error_hosts"]:
        names = ", ".join(s["error_hosts"][:10])
        lines.append(f"  unreadable: {names}" + (
            f" (+{len(s['error_hosts']) - 10} more)" if len(s["error_hosts"]) > 10 else ""))
    return "\n".join(lines) + "\n"
