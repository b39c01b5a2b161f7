"""The doctor's text report (rich), in the order an operator reads it.

1. the verdict in one line; 2. the failures, grouped; 3. the memory picture; 4. findings,
most severe first, each with its numbers and sources; 5. recommendations with the exact
``minfree apply`` command and what the change costs and buys; then what could not be checked.

Rendering only: every number comes from the document built by
:func:`minfree.outputs.doctor_json.doctor_document`, so text and JSON never disagree.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping
from typing import Any

from minfree.outputs.findings_text import fmt_kb

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "notice": "cyan", "info": "dim"}
_VERDICT_STYLE = {"failing": "bold white on red", "at risk": "bold black on yellow",
                  "healthy": "bold white on green"}


def _console(width: int, color: bool) -> Any:
    from rich.console import Console

    # markup=False: paths and kernel text contain "[...]", which must print as is.
    return Console(file=io.StringIO(), width=width, color_system="standard" if color else None,
                   force_terminal=color, highlight=False, soft_wrap=False, markup=False,
                   emoji=False)


def _wrapped(out: Any, text: str, width: int, indent: str = "  ",
             subsequent: str | None = None, style: str = "") -> None:
    """A paragraph wrapped with a hanging indent (rich would wrap to column 0)."""
    from rich.text import Text

    lines = textwrap.wrap(text, width=width - 1, initial_indent=indent,
                          subsequent_indent=subsequent if subsequent is not None else indent + "  ",
                          break_on_hyphens=False, break_long_words=False) or [indent]
    for line in lines:
        out(Text(line, style=style) if style else line)


def render_doctor_text(doc: Mapping[str, Any], *, width: int = 100, color: bool = False,
                       show_candidates: bool = False) -> str:
    """The report as text (ANSI colours only with ``color``)."""
    from rich.table import Table
    from rich.text import Text

    console = _console(width, color)
    out = console.print
    host = doc["host"]
    verdict = doc["verdict"]
    title = Text()
    title.append(f" {verdict['status'].upper()} ", style=_VERDICT_STYLE.get(verdict["status"], ""))
    title.append(f"  {verdict['reason'].split(': ', 1)[-1]}")
    out(title)
    release = host["kernel_release"] or "kernel release unknown"
    _wrapped(out, f"host: {host['label']} ({release}, profile {host['profile']})", width,
             indent="")

    # 2. failures
    out()
    failures = doc["failures"]
    if failures:
        out(Text("Page allocation failures", style="bold"))
        table = Table(show_edge=False, pad_edge=False, box=None)
        for column in ("process", "order", "mode", "context", "count", "first seen",
                       "last seen", "verdict"):
            table.add_column(column, overflow="fold")
        for g in failures:
            count = f"{g['count']:,}" + (f" (+{g['suppressed']:,} suppressed)"
                                         if g["suppressed"] else "")
            table.add_row(g["process"], str(g["order"]), g["mode"], g["context"], count,
                          g["first_seen"] or "-", g["last_seen"] or "-", g["verdict"] or "-")
        out(table)
        seen_advice: set[str] = set()
        for g in failures:
            if g.get("advice") and g["advice"] not in seen_advice:
                seen_advice.add(g["advice"])
                _wrapped(out, f"{g['process']} order {g['order']}: {g['advice']}", width)
    else:
        out(Text("No page allocation failures in the logs read.", style="bold"))

    # 3. memory picture
    out()
    out(Text("Memory", style="bold"))
    mem = doc["memory"]
    if mem["total_kb"] is not None:
        out(f"  total {fmt_kb(mem['total_kb'])}, free {fmt_kb(mem['free_kb'])}")
        out(f"  page cache {fmt_kb(mem['file_cache_kb'])}, available "
            f"{fmt_kb(mem['available_kb'])}")
    else:
        out("  /proc/meminfo not available")
    if mem["zones"]:
        table = Table(show_edge=False, pad_edge=False, box=None)
        for column in ("zone", "free", "min kB", "low kB", "high kB", "free vs low", "largest block"):
            table.add_column(column, justify="right" if column != "zone" else "left")
        for z in mem["zones"]:
            headroom = z["free_kb"] - z["low_kb"]
            largest = "-" if z["highest_free_order"] is None else (
                "none" if z["highest_free_order"] < 0 else f"order {z['highest_free_order']}")
            table.add_row(f"node {z['node']} {z['zone']}", f"{z['free_kb']:,} kB",
                          f"{z['min_kb']:,}", f"{z['low_kb']:,}", f"{z['high_kb']:,}",
                          f"{headroom:+,} kB", largest)
        out(table)
    settings = doc["settings"]
    def shown(value: Any) -> str:
        return "unknown" if value is None else str(value)

    _wrapped(out, f"vm.min_free_kbytes {shown(settings['vm.min_free_kbytes'])}, "
             f"watermark_scale_factor {shown(settings['vm.watermark_scale_factor'])}, "
             f"THP enabled {shown(settings['thp_enabled'])} / defrag "
             f"{shown(settings['thp_defrag'])}", width)

    # 4. findings
    out()
    findings = doc["findings"]
    out(Text(f"Findings ({len(findings)})", style="bold"))
    if not findings:
        out("  none")
    hang = " " * 11
    for f in findings:
        tag = f"{f['severity'].upper():8}"
        body = textwrap.wrap(f"{f['summary']} [{f['key']}]", width=width - 12,
                             break_on_hyphens=False, break_long_words=False)
        first = Text("  ")
        first.append(tag, style=_SEVERITY_STYLE.get(f["severity"], ""))
        first.append(" " + (body[0] if body else ""))
        out(first)
        for line in body[1:]:
            out(hang + line)
        sources = [e["source"] for e in f["evidence"]][:4]
        if sources:
            _wrapped(out, "from: " + ", ".join(sources), width, indent=hang,
                     subsequent=hang + "      ", style="dim")

    # 5. recommendations
    out()
    recs = doc["recommendations"]
    out(Text("Recommendations", style="bold"))
    if not recs:
        chosen = doc["chosen"]
        if chosen["min_free_kbytes"] is not None:
            _wrapped(out, f"no change needed: vm.min_free_kbytes "
                     f"{settings['vm.min_free_kbytes']} already meets the largest supported "
                     f"rule ({chosen['rule']}, {chosen['min_free_kbytes']:,} kB)", width)
        else:
            out("  no change recommended")
    else:
        _recommendation_table(out, recs, width=width)
        if doc["apply_command"]:
            out()
            out(Text("  " + doc["apply_command"], style="bold"))
        manual = [r for r in recs if not r["applicable"]]
        for r in manual:
            path = "/sys/kernel/mm/" + r["sysctl"].replace(".", "/")
            out(f"  (by hand, not a sysctl: echo {r['recommended']} > {path})")
    cost = doc["cost"]
    if cost is not None and cost["memory_taken_from_applications_kb"] is not None and recs:
        taken = cost["memory_taken_from_applications_kb"]
        if taken >= 0:
            _wrapped(out, f"cost: {fmt_kb(taken)} more kept free (the high watermarks' sum, "
                     "taken from applications and page cache)", width)
        else:
            _wrapped(out, f"gives back: {fmt_kb(-taken)} to applications and page cache (the "
                     "high watermarks' sum shrinks)", width)
        gains = []
        if cost["atomic_reserve_gain_kb"] and cost["atomic_reserve_gain_kb"] > 0:
            gains.append(f"{fmt_kb(cost['atomic_reserve_gain_kb'])} more reserve that only "
                         "atomic allocations may use")
        if cost["kswapd_head_start_gain_kb"] and cost["kswapd_head_start_gain_kb"] > 0:
            gains.append(f"kswapd starts {fmt_kb(cost['kswapd_head_start_gain_kb'])} earlier "
                         "(wider low-min gap)")
        if gains:
            _wrapped(out, "buys: " + "; ".join(gains), width)
    if show_candidates or recs:
        out()
        out(Text("min_free_kbytes candidates", style="bold"))
        table = Table(show_edge=False, pad_edge=False, box=None)
        for column in ("rule", "kB", "applies", "formula"):
            table.add_column(column, overflow="fold")
        for c in doc["candidate_details"]:
            kb = "-" if c["kb"] is None else f"{c['kb']:,}"
            table.add_row(c["rule"], kb, "yes" if c["supported"] else "no",
                          f"{c['formula']} ({c['why']})" if c["why"] else c["formula"])
        out(table)
        chosen = doc["chosen"]
        if chosen["capped_by"]:
            out(f"  capped by {chosen['capped_by']}")

    # what could not be checked
    if doc["missing"]:
        out()
        out(Text("Not checked", style="bold"))
        for m in doc["missing"]:
            _wrapped(out, f"{m['what']}: {m['reason']}", width)
    return console.file.getvalue()


def _recommendation_table(out: Any, recs: Any, *, sources: bool = False,
                          width: int = 100) -> None:
    """Setting / current / recommended, then each recommendation's reasons as lines."""
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False, box=None)
    for column in ("setting", "current", "recommended"):
        table.add_column(column)
    for r in recs:
        value = ("at least " if r["kind"] == "at-least" else "") + r["recommended"]
        table.add_row(r["sysctl"], r["current"] or "-", value)
    out(table)
    for r in recs:
        out(f"  why {r['sysctl']}:")
        for reason in r["reasons"]:
            _wrapped(out, f"- {reason}", width, indent="    ", subsequent="      ")
        if sources and r["sources"]:
            _wrapped(out, f"sources: {', '.join(r['sources'])}", width, indent="    ",
                     subsequent="      ")


def _inputs_text(inputs: Mapping[str, Any]) -> str:
    parts = []
    for key, value in inputs.items():
        if key == "interfaces" and isinstance(value, list):
            value = ", ".join(f"{i['name']} {i['queues']}x{i['ring']}x{i['buffer_bytes']}B"
                              for i in value)
        if value in (None, [], {}, ""):
            continue
        parts.append(f"{key}={value}")
    return "; ".join(parts)


def render_recommend_text(doc: Mapping[str, Any], *, width: int = 100,
                          color: bool = False) -> str:
    """``minfree recommend``: every candidate with formula and inputs, then the changes."""
    from rich.table import Table
    from rich.text import Text

    console = _console(width, color)
    out = console.print
    host = doc["host"]
    settings = doc["settings"]
    out(Text(f"min_free_kbytes for {host['label']} ({host['kernel_release'] or 'release unknown'}"
             f", profile {host['profile']}): now {settings['vm.min_free_kbytes']}",
             style="bold"))
    table = Table(show_edge=False, pad_edge=False, box=None)
    for column in ("rule", "kB", "applies", "formula and inputs"):
        table.add_column(column, overflow="fold")
    for c in doc["candidate_details"]:
        kb = "-" if c["kb"] is None else f"{c['kb']:,}"
        detail = c["formula"]
        inputs = _inputs_text(c["inputs"])
        if inputs:
            detail += f" [{inputs}]"
        if c["why"]:
            detail += f" - {c['why']}"
        table.add_row(c["rule"], kb, "yes" if c["supported"] else "no", detail)
    out(table)
    chosen = doc["chosen"]
    out()
    if chosen["min_free_kbytes"] is None:
        out("No candidate could be computed (see 'Not checked').")
    else:
        line = (f"Chosen: at least {fmt_kb(chosen['min_free_kbytes'])} ({chosen['rule']}"
                + (f", capped by {chosen['capped_by']}" if chosen["capped_by"] else "") + ")")
        out(Text(line, style="bold"))
    for note in chosen["notes"]:
        out(f"  note: {note}")
    out()
    recs = doc["recommendations"]
    if not recs:
        out("No setting needs to change.")
    else:
        _recommendation_table(out, recs, sources=True, width=width)
        if doc["apply_command"]:
            out()
            out(Text("  " + doc["apply_command"], style="bold"))
    if doc["missing"]:
        out()
        out(Text("Not checked", style="bold"))
        for m in doc["missing"]:
            _wrapped(out, f"{m['what']}: {m['reason']}", width)
    return console.file.getvalue()
