"""``minfree fleet --html FILE``: the fleet summary and host table as one self-contained page.

Same rules as the host report (:mod:`minfree.outputs.html_report`): no network, inline SVG
(the reserve/target ratio histogram), numbers in ``data-key`` attributes.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

from minfree.outputs.html_report import STYLE, esc, fmt_int, keyed


def render_fleet_html(rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> str:
    from minfree.outputs.html_charts import histogram_svg

    s = summary
    ratios = [r["min_free_kbytes"] / r["target_min_free_kbytes"] for r in rows
              if not r.get("error") and r.get("min_free_kbytes") is not None
              and r.get("target_min_free_kbytes")]
    chart = histogram_svg("ratio", ratios, xlabel="vm.min_free_kbytes / doctor's target")
    generated = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>minfree fleet: {s['hosts']} hosts</title><style>{STYLE}</style></head><body>",
        f"<h1>minfree fleet: {s['hosts']} hosts</h1><p class='meta'>generated {generated}</p>",
        "<div class='numbers'>",
    ]
    for key, label in (("failing", "failing"), ("at_risk", "at risk"), ("healthy", "healthy"),
                       ("errors", "unreadable"), ("below_target", "reserve below target")):
        out.append(f"<div>{label}<span class='value'>"
                   f"{keyed('fleet-' + key.replace('_', '-'), s[key], fmt_int(s[key]))}"
                   "</span></div>")
    out.append("</div>")
    out.append(f"<figure>{chart}<figcaption>Today's vm.min_free_kbytes divided by the largest "
               "supported sizing rule the doctor chose for each host (1 = on target).</figcaption>"
               "</figure>")
    deviating = [(k, v) for k, v in s["settings"].items() if v["deviants"]]
    if deviating:
        out.append("<h2>Settings that differ from the fleet's majority</h2><table><thead><tr>"
                   "<th>setting</th><th>majority</th><th class='num'>hosts</th><th>differ</th>"
                   "</tr></thead><tbody>")
        for key, info in deviating:
            names = ", ".join(f"{esc(d['host'])}={esc(d['value'])}" for d in info["deviants"])
            out.append(f"<tr data-setting='{esc(key)}'><td><code>{esc(key)}</code></td>"
                       f"<td>{esc(info['majority'])}</td><td class='num'>"
                       f"{info['hosts_with_majority']} / {info['hosts_known']}</td>"
                       f"<td>{names}</td></tr>")
        out.append("</tbody></table>")
    out.append("<h2>Hosts</h2><table><thead><tr><th>host</th><th>verdict</th>"
               "<th class='num'>failures</th><th>by order</th><th class='num'>min_free_kbytes"
               "</th><th class='num'>recommended</th><th>findings / error</th></tr></thead>"
               "<tbody>")
    for r in rows:
        failures = r.get("failures") or {}
        orders = ", ".join(f"{k}:{v}" for k, v in (failures.get("by_order") or {}).items())
        tail = ("<strong>error:</strong> " + esc(r["error"])) if r.get("error") else \
            ", ".join(esc(k) for k in r.get("findings") or ())
        out.append(
            f"<tr data-host='{esc(r.get('host'))}' data-verdict='{esc(r.get('verdict') or 'error')}'>"
            f"<td>{esc(r.get('host'))}</td><td>{esc(r.get('verdict') or 'error')}</td>"
            f"<td class='num'>{failures.get('total', 0)}</td><td>{esc(orders)}</td>"
            f"<td class='num'>{fmt_int(r.get('min_free_kbytes'))}</td>"
            f"<td class='num'>{fmt_int(r.get('recommended_min_free_kbytes'))}</td>"
            f"<td class='small'>{tail}</td></tr>")
    out.append("</tbody></table></body></html>")
    return "\n".join(out) + "\n"
