"""``minfree report``: one self-contained HTML file with the doctor's verdict and the charts.

The page opens with no network access: styles, the one small script and every chart (inline
SVG, see :mod:`minfree.outputs.html_charts`) are inside the file. Key numbers carry stable
``data-key`` attributes (``verdict``, ``current-min-free-kbytes``,
``recommended-min-free-kbytes``, ``failures-total``, ``failure-count`` per group...) so that
scripts and tests can read the page; the report data is also embedded as JSON in
``<script type="application/json" id="report-data">``.

Two steps, kept apart so the page can be re-rendered from saved data:

- :func:`report_data` turns the doctor document (schema ``minfree.doctor/1``) plus what the
  document does not carry (the zones' free lists, each failure report's details, related
  events with their times, a simulation sweep) into one JSON-ready mapping, schema
  ``minfree.report/1``. The watermarks with the recommended settings come from the kernel
  model (:func:`minfree.kernel.watermarks.compare_settings`), fragmentation indices from
  :mod:`minfree.kernel.fragmentation`.
- :func:`render_html` turns that mapping into the page and decides nothing.

:func:`collect_report_data` does both reads for a root and its logs in one call.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

SCHEMA = "minfree.report/1"

#: With wall-clock times spanning at most this many hours, every hour is drawn (a real time
#: axis); beyond it only the hours with events are, so that a log covering a year stays legible.
CONTIGUOUS_HOURS_MAX = 72


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------

def recommended_value(doc: Mapping[str, Any], sysctl: str) -> int | None:
    """The recommended value of ``sysctl`` in a doctor document, as an integer, or None."""
    for rec in doc.get("recommendations") or ():
        if rec.get("sysctl") == sysctl:
            try:
                return int(str(rec.get("recommended")).split()[0])
            except (TypeError, ValueError, IndexError):
                return None
    return None


def current_value(doc: Mapping[str, Any], sysctl: str) -> int | None:
    """Today's value of ``sysctl`` from a doctor document's ``settings``, or None."""
    value = (doc.get("settings") or {}).get(sysctl)
    try:
        return None if value is None else int(str(value).split()[0])
    except (TypeError, ValueError, IndexError):
        return None


def _hour_floor(when: _dt.datetime) -> _dt.datetime:
    return when.replace(minute=0, second=0, microsecond=0)


#: Year used for syslog stamps that print none (``Jul 15 03:01:26``): a leap year, so that
#: ``Feb 29`` parses. Labels then omit the year.
YEARLESS = 2000


def clock_time(when: _dt.datetime | None, text: str | None) -> _dt.datetime | None:
    """The wall-clock time of a log line for bucketing: the parsed one, else the syslog text.

    >>> clock_time(None, "Jul 15 03:01:26")
    datetime.datetime(2000, 7, 15, 3, 1, 26)
    >>> clock_time(None, "[12.5]") is None
    True
    """
    if when is not None:
        return when.replace(tzinfo=None)
    if not text:
        return None
    stamp = " ".join(text.split()[:3])
    try:
        return _dt.datetime.strptime(f"{YEARLESS} {stamp}", "%Y %b %d %H:%M:%S")
    except ValueError:
        return None


def timeline(
    failures: Sequence[tuple[int, _dt.datetime | None, float | None]],
    events: Sequence[tuple[str, _dt.datetime | None, float | None]],
) -> dict[str, Any]:
    """Bucket failures (order, time, uptime) and related events (kind, time, uptime) per hour.

    Wall-clock hours when the log has them, else hours since boot (dmesg uptime stamps);
    items without either land in a final ``time unknown`` bucket.

    >>> t = _dt.datetime(2024, 5, 1, 10, 20)
    >>> tl = timeline([(1, t, None), (1, t.replace(hour=12), None), (3, None, None)],
    ...               [("oom-killer", t.replace(minute=50), None)])
    >>> tl["buckets"]
    ['2024-05-01 10:00', '2024-05-01 11:00', '2024-05-01 12:00', 'time unknown']
    >>> tl["failures_by_order"], tl["events_by_kind"]
    ({1: [1, 0, 1, 0], 3: [0, 0, 0, 1]}, {'oom-killer': [1, 0, 0, 0]})
    """
    items = [("f", order, when, up) for order, when, up in failures]
    items += [("e", kind, when, up) for kind, when, up in events]
    use_clock = any(when is not None for _, _, when, _ in items)
    use_uptime = not use_clock and any(up is not None for _, _, _, up in items)
    keys: list[Any] = []
    for _, _, when, up in items:
        if use_clock and when is not None:
            keys.append(_hour_floor(when.replace(tzinfo=None)))
        elif use_uptime and up is not None:
            keys.append(int(up // 3600))
        else:
            keys.append(None)
    known = sorted({k for k in keys if k is not None})
    if use_clock and known:
        span = int((known[-1] - known[0]).total_seconds() // 3600)
        if span <= CONTIGUOUS_HOURS_MAX:
            known = [known[0] + _dt.timedelta(hours=h) for h in range(span + 1)]
    elif use_uptime and known and known[-1] - known[0] <= CONTIGUOUS_HOURS_MAX:
        known = list(range(known[0], known[-1] + 1))
    if use_clock:
        # Syslog stamps print no year: those hours are labelled without one (and sort before
        # stamps that have a year).
        labels = [k.strftime("%b %d %H:%M" if k.year == YEARLESS else "%Y-%m-%d %H:%M")
                  for k in known]
        axis = "hour (log time)"
    elif use_uptime:
        labels = [f"{k}-{k + 1} h" for k in known]
        axis = "hours since boot (dmesg uptime)"
    else:
        labels = []
        axis = "time not printed in the log"
    if any(k is None for k in keys):
        labels.append("time unknown")
    index = {k: i for i, k in enumerate(known)}
    unknown = len(labels) - 1
    by_order: dict[int, list[int]] = {}
    by_kind: dict[str, list[int]] = {}
    for (what, name, _, _), key in zip(items, keys, strict=True):
        slot = index[key] if key is not None else unknown
        table = by_order if what == "f" else by_kind
        row = table.setdefault(name, [0] * len(labels))
        row[slot] += 1
    return {"axis": axis, "buckets": labels,
            "failures_by_order": dict(sorted(by_order.items())),
            "events_by_kind": by_kind}


def _zone_details(
    zones: Sequence[Any],
    sysctl: Mapping[str, str],
    release: str | None,
    page_size_bytes: int,
    doc: Mapping[str, Any],
) -> tuple[list[dict[str, Any]], list[str]]:
    """Per populated zone: watermarks today and predicted, free blocks, fragmentation."""
    from minfree.kernel import fragmentation
    from minfree.kernel.release import KernelRelease
    from minfree.kernel.watermarks import compare_settings

    notes: list[str] = []
    kb = page_size_bytes // 1024 or 4

    def pages(n: int | None) -> int | None:
        return None if n is None else n * page_size_bytes // 1024

    proposed: dict[tuple[int, str], Any] = {}
    rec_mfk = recommended_value(doc, "vm.min_free_kbytes")
    rec_wsf = recommended_value(doc, "vm.watermark_scale_factor")
    if zones and (rec_mfk is not None or rec_wsf is not None):
        try:
            comparison = compare_settings(
                zones, sysctl, release=KernelRelease.try_parse(release),
                page_size_bytes=page_size_bytes, min_free_kbytes=rec_mfk,
                watermark_scale_factor=rec_wsf)
            proposed = {(p.node, p.zone): p for p in comparison.proposed}
            notes.extend(comparison.assumptions)
        except (ValueError, TypeError, KeyError) as error:
            notes.append(f"watermarks with the recommended settings not predicted: {error}")
    out = []
    for z in zones:
        if not z.populated:
            continue
        entry: dict[str, Any] = {
            "node": z.node, "zone": z.name, "label": f"node {z.node} {z.name}",
            "free_kb": pages(z.free_pages), "managed_kb": pages(z.managed_pages),
            "today": {"min_kb": pages(z.min_pages), "low_kb": pages(z.low_pages),
                      "high_kb": pages(z.high_pages)},
            "recommended": None, "free_blocks": None, "block_kb": None,
            "fragmentation_index": None, "unusable_index": None,
        }
        p = proposed.get((z.node, z.name))
        if p is not None:
            entry["recommended"] = {"min_kb": pages(p.min_pages), "low_kb": pages(p.low_pages),
                                    "high_kb": pages(p.high_pages)}
        if z.free_blocks is not None:
            info = fragmentation.zone_fragmentation(z.free_blocks)
            entry["free_blocks"] = list(info.free_blocks)
            entry["block_kb"] = [kb << k for k in range(len(info.free_blocks))]
            entry["fragmentation_index"] = [v / 1000 for v in info.fragmentation_index]
            entry["unusable_index"] = [v / 1000 for v in info.unusable_index]
        out.append(entry)
    return out, notes


def _doc_zones(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Zone entries from a doctor document alone (no free lists, no prediction)."""
    out = []
    for z in (doc.get("memory") or {}).get("zones") or ():
        out.append({
            "node": z["node"], "zone": z["zone"], "label": f"node {z['node']} {z['zone']}",
            "free_kb": z["free_kb"], "managed_kb": z.get("managed_kb"),
            "today": {"min_kb": z["min_kb"], "low_kb": z["low_kb"], "high_kb": z["high_kb"]},
            "recommended": None, "free_blocks": None, "block_kb": None,
            "fragmentation_index": None, "unusable_index": None,
        })
    return out


def simulation_summary(sweep: Mapping[str, Any]) -> dict[str, Any]:
    """Points from ``simulate --sweep --json``: (min_free_kbytes, worst and mean atomic
    failures over the seeds, mean direct-reclaim stalls)."""
    runs = sweep.get("runs") or []
    by_value: dict[int, list[tuple[int, float]]] = {}
    for run in runs:
        value = run.get("min_free_kbytes")
        failures = run.get("atomic_failures")
        if value is None or failures is None:
            continue
        stalls = float(run.get("direct_reclaim_stalls") or 0)
        by_value.setdefault(int(value), []).append((int(failures), stalls))
    points = [(v, max(f for f, _ in runs_), sum(f for f, _ in runs_) / len(runs_),
               sum(s for _, s in runs_) / len(runs_))
              for v, runs_ in sorted(by_value.items())]
    return {
        "scenario": sweep.get("scenario"), "engine": sweep.get("engine"),
        "host": sweep.get("host"), "seeds": sweep.get("seeds"),
        "points": [list(p) for p in points],
        "safe_min_free_kbytes": sweep.get("safe_min_free_kbytes"),
        "default_min_free_kbytes": sweep.get("default_min_free_kbytes"),
        "assumptions": list(sweep.get("assumptions") or ()),
    }


def report_data(
    doc: Mapping[str, Any],
    *,
    zones: Sequence[Any] = (),
    sysctl: Mapping[str, str] | None = None,
    scan: Any = None,
    simulation: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report's data (schema ``minfree.report/1``) from a doctor document and extras.

    ``zones``: the host's :class:`~minfree.model.zone.Zone` values (free lists and the
    recommended watermarks need them; without them the zones come from the document).
    ``scan``: the :class:`~minfree.analysis.failure_report.ScanResult` of the same logs
    (per-report details and the timeline). ``simulation``: ``minfree simulate --sweep
    --json`` output.
    """
    notes: list[str] = []
    host = doc.get("host") or {}
    if zones:
        zone_entries, zone_notes = _zone_details(
            zones, sysctl or {}, host.get("kernel_release"),
            int(host.get("page_size_bytes") or 4096), doc)
        notes.extend(zone_notes)
    else:
        zone_entries = _doc_zones(doc)
        if zone_entries:
            notes.append("zones from the doctor document only: free lists and the watermarks "
                          "with the recommended settings need the host data (--root)")
    reports: list[dict[str, Any]] = []
    related: dict[str, int] = {}
    tl = timeline([], [])
    if scan is not None:
        from minfree.outputs.scan_json import report_dict

        reports = [report_dict(item) for item in scan.reports]
        related = dict(Counter(e.kind for e in scan.related))
        tl = timeline(
            [(item.report.order if item.report.order is not None else -1,
              clock_time(item.report.timestamp, item.report.timestamp_text),
              item.report.uptime_seconds) for item in scan.reports],
            [(e.kind, clock_time(e.timestamp, e.timestamp_text), e.uptime_seconds)
             for e in scan.related])
    else:
        # The doctor document alone: the groups' counts, placed in the unknown bucket.
        orders = Counter()
        for g in doc.get("failures") or ():
            orders[int(g.get("order", -1))] += int(g.get("count") or 0)
        if orders:
            tl = {"axis": "time not in the doctor document", "buckets": ["time unknown"],
                  "failures_by_order": {o: [n] for o, n in sorted(orders.items())},
                  "events_by_kind": {}}
    try:
        extfrag = int(str((sysctl or {}).get("vm.extfrag_threshold", "")).split()[0])
    except (ValueError, IndexError):
        extfrag = None
    return {
        "schema": SCHEMA,
        "doctor": dict(doc),
        "extfrag_threshold": extfrag,
        "current_min_free_kbytes": current_value(doc, "vm.min_free_kbytes"),
        "recommended_min_free_kbytes": recommended_value(doc, "vm.min_free_kbytes"),
        "zones": zone_entries,
        "timeline": tl,
        "reports": reports,
        "related_by_kind": related,
        "simulation": simulation_summary(simulation) if simulation else None,
        "notes": notes,
    }


def collect_report_data(
    root: Any = None,
    *,
    logs: Sequence[str] | None = None,
    interval_s: float | None = 0.0,
    profile: str = "generic",
    aerospike_conf: str | None = None,
    allow_high: bool = False,
    simulation: Mapping[str, Any] | None = None,
    simulate: bool = False,
) -> dict[str, Any]:
    """Read a host (or bundle) and its logs and return :func:`report_data` for it.

    The doctor part is exactly :func:`minfree.outputs.doctor_json.doctor_document`, so the
    page shows the numbers ``minfree doctor --json`` prints for the same input. ``simulate``
    runs the simulator's advisor on this host and its failures exactly as ``doctor
    --simulate`` does (:func:`minfree.outputs.simulated_reserve.with_simulation`): its sweep
    is plotted and its safe value becomes the doctor's ``simulated`` candidate.
    """
    from minfree.analysis.diagnosis import diagnose
    from minfree.analysis.findings import evaluate
    from minfree.outputs.doctor_json import doctor_document
    from minfree.recommend import recommend
    from minfree.sources.host_inputs import collect_host_inputs
    from minfree.sources.root import open_root

    opened = open_root(root)
    inputs = collect_host_inputs(opened, logs=logs, interval_s=interval_s, profile=profile,
                                 aerospike_conf=aerospike_conf)
    d = diagnose(inputs)
    # The per-report details and times come from the scan the diagnosis was made from (None
    # when the logs could not be read: the doctor part lists them under missing).
    scan = d.scan
    notes: list[str] = []
    if simulate:
        from minfree.outputs.simulate_json import sweep_json
        from minfree.outputs.simulated_reserve import with_simulation

        simulated = with_simulation(d, inputs.snapshot)
        d = simulated.diagnosis
        if simulated.result is None:
            notes.append(f"simulation not run: {simulated.error}")
        else:
            simulation = json.loads(sweep_json(simulated.result.sweep))
            simulation["assumptions"] = list(simulated.result.assumptions)
    findings = evaluate(d)
    doc = doctor_document(d, findings, recommend(d, findings, allow_high=allow_high))
    data = report_data(doc, zones=d.zones, sysctl=d.sysctl, scan=scan, simulation=simulation)
    data["notes"] = [*data["notes"], *notes]
    return data


# ---------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------

STYLE = """
:root { --ink:#1a1a1a; --muted:#555; --line:#ccc; --bg:#fff; --panel:#f6f6f4; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); background: var(--bg); margin: 0 auto; max-width: 1100px;
       padding: 1.2rem 1.5rem 3rem; }
h1 { font-size: 1.5rem; margin: 0 0 .2rem; }
h2 { font-size: 1.2rem; border-bottom: 2px solid var(--ink); padding-bottom: .2rem;
     margin-top: 2.2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
.meta { color: var(--muted); font-size: .9rem; }
.verdict { display: flex; gap: 1rem; align-items: center; padding: .8rem 1rem;
           border: 3px solid var(--ink); background: var(--panel); margin: 1rem 0; }
.badge { font-weight: 700; text-transform: uppercase; padding: .3rem .7rem; border: 2px solid;
         letter-spacing: .04em; white-space: nowrap; }
.badge.failing { background:#D55E00; color:#fff; border-color:#7a3500; }
.badge.at-risk { background:#E69F00; color:#000; border-color:#7a5500; }
.badge.healthy { background:#009E73; color:#fff; border-color:#00513b; }
.badge.failing::before { content: "\\2716  "; }
.badge.at-risk::before { content: "\\26A0  "; }
.badge.healthy::before { content: "\\2714  "; }
.numbers { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr));
           gap: .6rem; margin: .8rem 0; }
.numbers div { border: 1px solid var(--line); padding: .5rem .7rem; }
.numbers .value { font-size: 1.25rem; font-weight: 700; display: block; }
pre { background: #1f1f1f; color: #f4f4f4; padding: .7rem 1rem; overflow-x: auto;
      font-size: .9rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; font-size: .88rem; }
th, td { border: 1px solid var(--line); padding: .25rem .45rem; text-align: left;
         vertical-align: top; }
th { background: var(--panel); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.sev { font-weight: 700; text-transform: uppercase; font-size: .8rem; }
.sev.critical { color: #a33c00; } .sev.warning { color: #7a5500; }
.sev.notice, .sev.info { color: var(--muted); }
figure { margin: .6rem 0 1rem; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: .85rem; }
details { border: 1px solid var(--line); padding: .4rem .7rem; margin: .5rem 0; }
details > summary { cursor: pointer; font-weight: 600; }
.small { font-size: .85rem; color: var(--muted); }
button { font: inherit; padding: .2rem .6rem; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  pre { background: #fff; color: #000; border: 1px solid #000; }
  details { break-inside: avoid; }
  figure { break-inside: avoid; }
  button { display: none; }
  h2 { break-after: avoid; }
}
"""

#: The page's only script: open or close every failure report (all of them before printing).
#: It loads nothing.
SCRIPT = """
(function () {
  document.documentElement.setAttribute("data-script", "ran");
  window.addEventListener("beforeprint", function () {
    var items = document.querySelectorAll("#reports details");
    for (var i = 0; i < items.length; i++) { items[i].open = true; }
  });
  var button = document.getElementById("toggle-reports");
  if (!button) { return; }
  button.addEventListener("click", function () {
    var items = document.querySelectorAll("#reports details");
    var open = button.getAttribute("data-open") !== "1";
    for (var i = 0; i < items.length; i++) { items[i].open = open; }
    button.setAttribute("data-open", open ? "1" : "0");
    button.textContent = open ? "Close all reports" : "Open all reports";
  });
})();
"""


def esc(value: Any) -> str:
    """HTML-escaped text; None prints as an em dash (unknown, never zero)."""
    if value is None:
        return "\u2014"
    return html.escape(str(value), quote=True)


def fmt_int(value: Any) -> str:
    if value is None:
        return "\u2014"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return esc(value)


def fmt_kb(value: Any) -> str:
    if value is None:
        return "\u2014"
    n = int(value)
    if abs(n) >= 1024 * 1024:
        return f"{n:,} kB ({n / 1024 / 1024:.1f} GiB)"
    if abs(n) >= 1024:
        return f"{n:,} kB ({n / 1024:.0f} MiB)"
    return f"{n:,} kB"


def keyed(key: str, value: Any, text: str | None = None, tag: str = "span",
          **attrs: Any) -> str:
    """An element carrying ``data-key`` and the raw ``data-value`` (for scripts and tests)."""
    extra = "".join(f' data-{k.replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    raw = "" if value is None else str(value)
    shown = text if text is not None else esc(value)
    return f'<{tag} data-key="{esc(key)}" data-value="{esc(raw)}"{extra}>{shown}</{tag}>'


def _verdict_section(data: Mapping[str, Any]) -> str:
    doc = data["doctor"]
    verdict = doc.get("verdict") or {}
    status = verdict.get("status") or "unknown"
    badge_class = status.replace(" ", "-")
    current = data.get("current_min_free_kbytes")
    recommended = data.get("recommended_min_free_kbytes")
    chosen = (doc.get("chosen") or {})
    total_failures = sum(int(g.get("count") or 0) for g in doc.get("failures") or ())
    memory = doc.get("memory") or {}
    badge = keyed("verdict", status, esc(status)).replace(
        "<span ", f'<span class="badge {esc(badge_class)}" ', 1)
    current_el = keyed("current-min-free-kbytes", current, fmt_int(current))
    recommended_el = keyed("recommended-min-free-kbytes", recommended,
                           "no change" if recommended is None else fmt_int(recommended))
    chosen_kb = chosen.get("min_free_kbytes")
    chosen_el = keyed("chosen-min-free-kbytes", chosen_kb, fmt_int(chosen_kb))
    capped = f", capped by {esc(chosen.get('capped_by'))}" if chosen.get("capped_by") else ""
    free_el = keyed("free-kb", memory.get("free_kb"), fmt_kb(memory.get("free_kb")))
    parts = [
        '<section id="verdict"><h2>Verdict</h2>',
        f'<div class="verdict">{badge}',
        f'<span data-key="verdict-reason">{esc(verdict.get("reason"))}</span></div>',
        '<div class="numbers">',
        f'<div>vm.min_free_kbytes now<span class="value">{current_el} kB</span></div>',
        f'<div>recommended<span class="value">{recommended_el}'
        f'{" kB" if recommended is not None else ""}</span></div>',
        f'<div>largest supported rule<span class="value">{chosen_el} kB</span>'
        f'<span class="small">{esc(chosen.get("rule"))}{capped}</span></div>',
        f'<div>failure reports<span class="value">'
        f'{keyed("failures-total", total_failures, fmt_int(total_failures))}</span></div>',
        f'<div>free memory<span class="value">{free_el}</span>'
        f'<span class="small">of {fmt_kb(memory.get("total_kb"))}</span></div>',
        '</div>',
    ]
    recs = doc.get("recommendations") or []
    parts.append("<h3>Recommendation</h3>")
    if not recs:
        parts.append('<p data-key="no-change">No change recommended.</p>')
    else:
        parts.append('<table id="recommendations"><thead><tr><th>setting</th><th class="num">'
                     'now</th><th class="num">recommended</th><th>kind</th><th>why</th>'
                     '</tr></thead><tbody>')
        for r in recs:
            reasons = "".join(f"<li>{esc(x)}</li>" for x in r.get("reasons") or ())
            sources = ", ".join(esc(s) for s in r.get("sources") or ())
            parts.append(
                f'<tr data-sysctl="{esc(r.get("sysctl"))}"><td><code>{esc(r.get("sysctl"))}'
                f'</code></td><td class="num">{esc(r.get("current"))}</td>'
                f'<td class="num">{esc(r.get("recommended"))}</td><td>{esc(r.get("kind"))}</td>'
                f'<td><ul>{reasons}</ul>'
                f'{"<span class=small>sources: " + sources + "</span>" if sources else ""}'
                '</td></tr>')
        parts.append("</tbody></table>")
    commands = []
    if doc.get("apply_command"):
        commands.append(doc["apply_command"])
    for r in recs:
        if not r.get("applicable", True):
            path = "/sys/kernel/mm/" + str(r.get("sysctl")).replace(".", "/")
            commands.append(f"echo {r.get('recommended')} > {path}   # by hand, not a sysctl")
    if commands:
        parts.append("<h3>Commands</h3>")
        parts.append('<pre data-key="apply-command"><code>' + esc("\n".join(commands))
                     + "</code></pre>")
        parts.append('<p class="small">Preview first with <code>--dry-run</code>; '
                     "<code>minfree rollback</code> undoes the change.</p>")
    cost = doc.get("cost")
    if cost and recs and cost.get("memory_taken_from_applications_kb") is not None:
        parts.append(
            '<p>Cost: <span data-key="cost-kb" data-value="'
            f'{esc(cost["memory_taken_from_applications_kb"])}">'
            f'{fmt_kb(cost["memory_taken_from_applications_kb"])}</span> more kept free '
            "(growth of the high watermarks' sum); atomic-only reserve grows by "
            f'{fmt_kb(cost.get("atomic_reserve_gain_kb"))}, kswapd starts '
            f'{fmt_kb(cost.get("kswapd_head_start_gain_kb"))} earlier.</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def _timeline_section(data: Mapping[str, Any]) -> str:
    from minfree.outputs.html_charts import timeline_svg

    tl = data.get("timeline") or {}
    by_order = {int(k): v for k, v in (tl.get("failures_by_order") or {}).items()}
    svg = timeline_svg(tl.get("buckets") or [], by_order, tl.get("events_by_kind") or {},
                       axis_label=tl.get("axis") or "")
    rows = []
    for order, counts in sorted(by_order.items()):
        rows.append(f'<tr><td>order {order if order >= 0 else "?"}</td><td class="num">'
                    f'{keyed("timeline-order", sum(counts), order=order, tag="span")}</td></tr>')
    for kind, counts in (tl.get("events_by_kind") or {}).items():
        rows.append(f'<tr><td>{esc(kind)}</td><td class="num">'
                    f'{keyed("timeline-event", sum(counts), kind=kind)}</td></tr>')
    table = ("<table class='small'><thead><tr><th>series</th><th class='num'>count</th></tr>"
             f"</thead><tbody>{''.join(rows)}</tbody></table>") if rows else ""
    return ('<section id="timeline"><h2>Timeline</h2>'
            + _figure(svg, "Failure reports per hour, stacked by order (colour and hatch per "
                           "order); related events (OOM kills, stalls) as markers on the right "
                           "axis. Reports hidden by the kernel's rate limit are not drawn.")
            + table + "</section>")


def _failures_section(data: Mapping[str, Any]) -> str:
    doc = data["doctor"]
    groups = doc.get("failures") or []
    parts = ['<section id="failures"><h2>Page allocation failures</h2>']
    if not groups:
        parts.append('<p data-key="no-failures">No page allocation failure in the logs read.'
                     "</p>")
    else:
        parts.append("<table><thead><tr><th>process</th><th class='num'>order</th><th>mode</th>"
                     "<th>context</th><th class='num'>reports</th><th class='num'>suppressed"
                     "</th><th>verdict</th><th class='num'>deficit</th><th>first / last seen"
                     "</th></tr></thead><tbody>")
        for i, g in enumerate(groups):
            parts.append(
                f'<tr data-group="{i}"><td>{esc(g.get("process"))}</td>'
                f'<td class="num">{esc(g.get("order"))}</td><td><code>{esc(g.get("mode"))}'
                f'</code></td><td>{esc(g.get("context"))}</td><td class="num">'
                + keyed("failure-count", g.get("count"), fmt_int(g.get("count")),
                        group=i, order=g.get("order"), process=g.get("process"))
                + f'</td><td class="num">{fmt_int(g.get("suppressed"))}</td>'
                f'<td>{esc(g.get("verdict"))}</td><td class="num">{fmt_kb(g.get("deficit_kb"))}'
                f'</td><td>{esc(g.get("first_seen"))}<br>{esc(g.get("last_seen"))}</td></tr>')
        parts.append("</tbody></table>")
    reports = data.get("reports") or []
    if reports:
        parts.append('<section id="reports"><h3>Each report</h3>'
                     '<button id="toggle-reports" type="button" data-open="0">Open all reports'
                     "</button>")
        for i, r in enumerate(reports):
            parts.append(_report_details(i, r))
        parts.append("</section>")
    parts.append("</section>")
    return "\n".join(parts)


def _report_details(i: int, r: Mapping[str, Any]) -> str:
    gfp = r.get("gfp") or {}
    v = r.get("verdict_detail") or {}
    head = (f'{esc(r.get("process"))}: order {esc(r.get("order"))}, mode '
            f'{esc(gfp.get("mask"))} \u2014 {esc(r.get("context"))} \u2014 '
            f'{esc(r.get("verdict"))}')
    rows = [
        ("where", f'{esc(r.get("source"))}:{esc(r.get("line"))}'),
        ("time", esc(r.get("timestamp"))),
        ("kernel", esc(r.get("kernel"))),
        ("GFP mode", f'<code data-key="report-gfp" data-report="{i}">{esc(gfp.get("mask"))}'
                     f'({esc(gfp.get("decoded"))})</code>'
                     + (f' <span class="small">printed: {esc(gfp.get("printed"))}</span>'
                        if gfp.get("printed") else "")),
        ("can sleep", esc(gfp.get("can_sleep"))),
        ("reserve access", esc(gfp.get("reserve_discount"))),
        ("highest zone", esc(gfp.get("highest_zone"))),
        ("context", f'{esc(r.get("context"))} '
                    f'<span class="small">{esc((r.get("context_detail") or {}).get("label"))}'
                    "</span>"),
        ("verdict", f'<strong data-key="report-verdict" data-report="{i}">'
                    f'{esc(r.get("verdict"))}</strong>: {esc(v.get("reason"))}'
                    + (" (inferred)" if v.get("inferred") else "")),
        ("advice", esc(r.get("advice"))),
    ]
    body = ["<table class='small'><tbody>"]
    body += [f"<tr><th>{k}</th><td>{val}</td></tr>" for k, val in rows]
    body.append("</tbody></table>")
    checks = v.get("zones") or []
    page_kb = v.get("page_size_kb") or 4
    if checks:
        body.append("<p class='small'>The watermark check re-run on the report's numbers "
                    "(kB):</p><table class='small'><thead><tr><th>zone</th><th class='num'>free"
                    "</th><th class='num'>min</th><th class='num'>effective min</th>"
                    "<th class='num'>usable free</th><th>passed</th><th>failed by</th>"
                    "<th class='num'>highest free order</th></tr></thead><tbody>")
        for z in checks:
            def kb(pages: Any) -> str:
                return fmt_int(None if pages is None else pages * page_kb)
            body.append(
                f"<tr><td>node {esc(z.get('node'))} {esc(z.get('zone'))}</td>"
                f"<td class='num'>{kb(z.get('free_pages'))}</td>"
                f"<td class='num'>{kb(z.get('min_pages'))}</td>"
                f"<td class='num'>{kb(z.get('effective_min_pages'))}</td>"
                f"<td class='num'>{kb(z.get('usable_free_pages'))}</td>"
                f"<td>{esc(z.get('passed'))}</td><td>{esc(z.get('failed_by'))}</td>"
                f"<td class='num'>{esc(z.get('highest_free_order'))}</td></tr>")
        body.append("</tbody></table>")
    meminfo = r.get("meminfo")
    if meminfo and meminfo.get("zones"):
        body.append("<p class='small'>Mem-Info zones as printed (kB):</p><table class='small'>"
                    "<thead><tr><th>zone</th><th class='num'>free</th><th class='num'>min</th>"
                    "<th class='num'>low</th><th class='num'>high</th><th class='num'>managed"
                    "</th><th>free blocks per order</th></tr></thead><tbody>")
        for z in meminfo["zones"]:
            buddy = next((b for b in meminfo.get("buddy") or ()
                          if b.get("zone") == z.get("zone")
                          and b.get("node") in (z.get("node"), None)), None)
            blocks = " ".join(str(c) for c in buddy["counts"]) if buddy else "\u2014"
            body.append(
                f"<tr><td>node {esc(z.get('node'))} {esc(z.get('zone'))}</td>"
                f"<td class='num' data-key='report-zone-free-kb' data-report='{i}' "
                f"data-zone='{esc(z.get('zone'))}' data-value='{esc(z.get('free_kb'))}'>"
                f"{fmt_int(z.get('free_kb'))}</td>"
                f"<td class='num'>{fmt_int(z.get('min_kb'))}</td>"
                f"<td class='num'>{fmt_int(z.get('low_kb'))}</td>"
                f"<td class='num'>{fmt_int(z.get('high_kb'))}</td>"
                f"<td class='num'>{fmt_int(z.get('managed_kb'))}</td>"
                f"<td><code>{esc(blocks)}</code></td></tr>")
        body.append("</tbody></table>")
        g = meminfo.get("global_pages") or {}
        if g:
            shown = ", ".join(f"{esc(k)}:{fmt_int(val)}" for k, val in list(g.items())[:16])
            body.append(f"<p class='small'>global counters (pages): {shown}</p>")
    trace = r.get("trace") or []
    if trace:
        frames = "\n".join(("? " if f.get("unreliable") else "") + str(f.get("function"))
                           for f in trace[:30])
        body.append(f"<pre>{esc(frames)}</pre>")
    return (f'<details data-report="{i}"><summary>{head}</summary>' + "".join(body)
            + "</details>")


def _zones_section(data: Mapping[str, Any]) -> str:
    from minfree.outputs.html_charts import (
        fragmentation_svg,
        free_blocks_heatmap_svg,
        zone_watermarks_svg,
    )

    zones = data.get("zones") or []
    recommended = data.get("recommended_min_free_kbytes")
    parts = ['<section id="zones"><h2>Zones: free memory against the watermarks</h2>']
    parts.append(_figure(
        zone_watermarks_svg(zones),
        "Per zone, the bands under min (only atomic callers), min to low (kswapd wakes) and "
        "low to high, today" + (f" and with vm.min_free_kbytes = {recommended:,} kB as the "
                                "kernel would compute them" if recommended is not None
                                else "") + "; the black line and diamond are free memory now."))
    parts.append("<table><thead><tr><th>zone</th><th class='num'>free</th><th class='num'>min"
                 "</th><th class='num'>low</th><th class='num'>high</th><th class='num'>min "
                 "recommended</th><th class='num'>low recommended</th><th class='num'>high "
                 "recommended</th></tr></thead><tbody>")
    for z in zones:
        rec = z.get("recommended") or {}
        today = z.get("today") or {}
        attrs = f"data-zone=\"{esc(z.get('zone'))}\" data-node=\"{esc(z.get('node'))}\""
        parts.append(
            f"<tr {attrs}><td>{esc(z.get('label'))}</td>"
            f"<td class='num' data-key='zone-free-kb' {attrs} data-value='{esc(z.get('free_kb'))}'>"
            f"{fmt_int(z.get('free_kb'))}</td>"
            f"<td class='num' data-key='zone-min-kb' {attrs} "
            f"data-value='{esc(today.get('min_kb'))}'>{fmt_int(today.get('min_kb'))}</td>"
            f"<td class='num'>{fmt_int(today.get('low_kb'))}</td>"
            f"<td class='num'>{fmt_int(today.get('high_kb'))}</td>"
            f"<td class='num' data-key='zone-recommended-min-kb' {attrs} "
            f"data-value='{esc(rec.get('min_kb'))}'>{fmt_int(rec.get('min_kb'))}</td>"
            f"<td class='num'>{fmt_int(rec.get('low_kb'))}</td>"
            f"<td class='num'>{fmt_int(rec.get('high_kb'))}</td></tr>")
    parts.append("</tbody></table>")
    with_blocks = [z for z in zones if z.get("free_blocks") is not None]
    parts.append("<h3>Free blocks per order</h3>")
    parts.append(_figure(
        free_blocks_heatmap_svg([z["label"] for z in with_blocks],
                                [z["free_blocks"] for z in with_blocks]),
        "Free blocks of each order (a block of order n is 2^n pages) per zone, from "
        "/proc/buddyinfo; colour on a log scale (cividis), the number printed in each cell."))
    parts.append(_figure(
        fragmentation_svg([z["label"] for z in with_blocks],
                          [z["fragmentation_index"] for z in with_blocks],
                          extfrag_threshold=data.get("extfrag_threshold") or 500),
        "Fragmentation index per order (the kernel's __fragmentation_index): -1 means a block "
        "of that order is free; towards 1, free memory exists only in smaller blocks "
        "(fragmentation); towards 0, memory itself is short."))
    parts.append("</section>")
    return "\n".join(parts)


def _findings_section(data: Mapping[str, Any]) -> str:
    findings = data["doctor"].get("findings") or []
    parts = ['<section id="findings"><h2>Findings</h2>']
    if not findings:
        parts.append("<p>No findings.</p>")
    parts.append("<ul>")
    for f in findings:
        sources = ", ".join(esc(e.get("source")) for e in (f.get("evidence") or ())[:6])
        parts.append(
            f'<li data-finding="{esc(f.get("key"))}" data-severity="{esc(f.get("severity"))}">'
            f'<span class="sev {esc(f.get("severity"))}">{esc(f.get("severity"))}</span> '
            f'{esc(f.get("summary"))} <code class="small">{esc(f.get("key"))}</code>'
            + (f'<br><span class="small">from: {sources}</span>' if sources else "")
            + "</li>")
    parts.append("</ul>")
    missing = data["doctor"].get("missing") or []
    if missing:
        parts.append("<h3>Not checked</h3><ul class='small'>")
        parts += [f"<li><code>{esc(m.get('what'))}</code>: {esc(m.get('reason'))}</li>"
                  for m in missing]
        parts.append("</ul>")
    notes = data.get("notes") or []
    if notes:
        parts.append("<ul class='small'>" + "".join(f"<li>{esc(n)}</li>" for n in notes)
                     + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def same_host(simulated: str | None, label: str | None) -> bool:
    """Whether a simulation's host is the report's host (same text or the same path)."""
    import os

    if not simulated or not label:
        return False
    if simulated == label:
        return True
    return (os.path.exists(simulated) and os.path.exists(label)
            and os.path.realpath(simulated) == os.path.realpath(label))


def _simulation_section(data: Mapping[str, Any]) -> str:
    sim = data.get("simulation")
    if not sim:
        return ""
    from minfree.outputs.html_charts import sweep_svg

    points = [tuple(p) for p in sim.get("points") or ()]
    safe = sim.get("safe_min_free_kbytes")
    same = same_host(sim.get("host"), (data["doctor"].get("host") or {}).get("label"))
    svg = sweep_svg(points, safe_kb=safe,
                    current_kb=data.get("current_min_free_kbytes") if same else None,
                    recommended_kb=data.get("recommended_min_free_kbytes") if same else None,
                    default_kb=sim.get("default_min_free_kbytes"))
    return ('<section id="simulation"><h2>Simulation</h2>'
            f"<p>Scenario <code>{esc(sim.get('scenario'))}</code> on {esc(sim.get('host'))}, "
            f"engine {esc(sim.get('engine'))}, seeds {esc(sim.get('seeds'))}: smallest safe "
            f"vm.min_free_kbytes {keyed('simulated-safe-min-free-kbytes', safe, fmt_int(safe))}"
            " kB."
            + ("" if same else " The simulated host is not this report's host, so this host's "
               "current and recommended values are not drawn on it.")
            + "</p>"
            + _figure(svg, "Simulated atomic allocation failures for each swept "
                           "vm.min_free_kbytes (worst seed and mean), with the mean direct-"
                           "reclaim stalls on the right axis.")
            + ("<h3>Assumptions</h3><ul class='small'>"
               + "".join(f"<li>{esc(a)}</li>" for a in sim.get("assumptions") or ())
               + "</ul>" if sim.get("assumptions") else "")
            + "</section>")


def render_html(data: Mapping[str, Any], *, generated: str | None = None) -> str:
    """The whole self-contained page for :func:`report_data` output."""
    doc = data["doctor"]
    host = doc.get("host") or {}
    generated = generated or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    embedded = json.dumps(data, default=str, separators=(",", ":")).replace("</", "<\\/")
    title = f"minfree report: {host.get('label') or 'host'}"
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing may load from elsewhere: the policy makes that explicit to the browser.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
        f"<header><h1>{esc(title)}</h1><p class='meta'>kernel "
        f"{keyed('kernel-release', host.get('kernel_release'))}, page size "
        f"{esc(host.get('page_size_bytes'))} bytes, {esc(host.get('numa_nodes'))} NUMA node(s), "
        f"profile {esc(host.get('profile'))}; minfree {esc(doc.get('minfree_version'))}, "
        f"generated {esc(generated)}.</p>",
        "<nav class='small'><a href='#verdict'>verdict</a> \u00b7 <a href='#timeline'>timeline"
        "</a> \u00b7 <a href='#zones'>zones</a> \u00b7 <a href='#failures'>failures</a> \u00b7 "
        "<a href='#findings'>findings</a>"
        + (" \u00b7 <a href='#simulation'>simulation</a>" if data.get("simulation") else "")
        + "</nav></header><main>",
        _verdict_section(data),
        _timeline_section(data),
        _zones_section(data),
        _failures_section(data),
        _findings_section(data),
        _simulation_section(data),
        "</main>",
        f'<script type="application/json" id="report-data">{embedded}</script>',
        f"<script>{SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(part for part in body if part) + "\n"
