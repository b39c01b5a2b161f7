"""Human output of ``minfree scan``: a grouped summary, then per-report details with ``-v``.

Rendering only (rich); every word of judgement comes from the analysis.
"""

from __future__ import annotations

from typing import IO

from minfree.analysis.failure_report import AnalyzedReport, ScanResult


def _e(text: object) -> str:
    """Log text is data, never rich markup (``[e1000e]`` must print as is)."""
    from rich.markup import escape

    return escape(str(text))

_VERDICT_STYLE = {
    "reserve-exhausted": "bold red",
    "fragmented": "bold yellow",
    "constrained": "bold magenta",
    "unknown": "dim",
}


def _console(file: IO[str] | None, width: int | None = None):
    import sys

    from rich.console import Console

    target = file if file is not None else sys.stdout
    if width is None and not (hasattr(target, "isatty") and target.isatty()):
        width = 132  # files and pipes: wide enough for the group table without folding
    return Console(file=file, width=width, highlight=False, soft_wrap=False)


def render_text(result: ScanResult, *, verbose: bool = False, file: IO[str] | None = None,
                width: int | None = None) -> None:
    """Print the summary (and details when ``verbose``) to ``file`` (stdout by default)."""
    from rich.table import Table

    console = _console(file, width)
    if not result.sources:
        sources = "(no input)"
    elif len(result.sources) <= 3:
        sources = ", ".join(result.sources)
    else:
        sources = f"{len(result.sources)} sources ({result.sources[0]}, ...)"
    if not result.reports:
        console.print(f"No page allocation failures found in {_e(sources)}.")
    else:
        total = result.failures
        suppressed = result.suppressed
        extra = f" (+{suppressed} suppressed by the kernel's rate limit)" if suppressed else ""
        console.print(f"[bold]{total} page allocation failure{'s' if total != 1 else ''}[/bold]"
                      f"{extra} in {_e(sources)}.")
        table = Table(show_lines=False, header_style="bold")
        for column in ("count", "process", "order", "mode", "context", "first seen", "last seen",
                       "verdict"):
            table.add_column(column, overflow="fold")
        for group in result.groups:
            verdict = group.verdict
            style = _VERDICT_STYLE.get(verdict, "")
            others = ", ".join(f"{k} {n}" for k, n in group.verdicts[1:])
            table.add_row(
                str(group.count) + (f" (+{group.suppressed})" if group.suppressed else ""),
                _e(group.process or "?"),
                "?" if group.order is None else str(group.order),
                _e(group.mode),
                group.context,
                _e(group.first_seen or "-"),
                _e(group.last_seen or "-"),
                f"[{style}]{verdict}[/{style}]" + (f" ({others})" if others else ""),
            )
        console.print(table)
        for group in result.groups:
            console.print(f"[bold]{_e(group.process or '?')}[/bold] order {group.order}, "
                          f"{_e(group.mode)}: {_e(group.advice)}")
    if result.related:
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(result.related_counts.items()))
        console.print(f"Related events (not counted as failures): {counts}.")
    if result.duplicates_dropped:
        console.print(f"{result.duplicates_dropped} report(s) seen in more than one source were "
                      "counted once.")
    for note in result.notes:
        console.print(f"[dim]note: {_e(note)}[/dim]")
    if verbose:
        for number, item in enumerate(result.reports, 1):
            _details(console, number, item)
        for event in result.related:
            console.print(f"[dim]{_e(event.source)}:{event.line}[/dim] {event.kind}: {_e(event.text)}"
                          + (f" (victim {_e(event.victim)})" if event.victim else ""))


def _details(console, number: int, item: AnalyzedReport) -> None:
    from rich.table import Table

    r, v, c = item.report, item.verdict, item.context
    console.rule(f"#{number} {_e(r.source)}:{r.first_line}-{r.last_line}")
    console.print(f"[bold]{_e(r.process or '?')}[/bold]: order {r.order}, mode {_e(item.mode_text)}"
                  + (f" at {_e(r.timestamp_text)}" if r.timestamp_text else ""))
    facts = []
    if r.pid is not None:
        facts.append(f"pid {r.pid}")
    if r.cpu is not None:
        facts.append(f"cpu {r.cpu}")
    if r.kernel_release:
        facts.append(f"kernel {r.kernel_release}")
    if r.taint:
        facts.append(f"tainted {r.taint}")
    if r.cpuset is not None:
        facts.append(f"cpuset {r.cpuset} mems_allowed {r.mems_allowed}")
    if r.suppressed:
        facts.append(f"{r.suppressed} similar reports suppressed before it")
    if r.during_oom:
        facts.append("printed during an OOM-killer report")
    if facts:
        console.print("  " + _e(", ".join(facts)))
    if r.hardware:
        console.print(f"  hardware: {_e(r.hardware)}")
    if item.gfp is not None:
        g = item.gfp
        era = f"{g.era_label}{' (inferred: ' + g.era_reason + ')' if g.era_inferred else ''}"
        console.print(_e(f"  mode: {g.names}; {'may sleep' if g.can_sleep else 'cannot sleep'}, "
                         f"{'wakes' if g.wakes_kswapd else 'does not wake'} kswapd; "
                         f"{g.reserve_discount}; era {era}"))
    console.print(_e(f"  context: {c.label}, {c.where} context"
                     + (f" (from {c.evidence})" if c.evidence else "")))
    style = _VERDICT_STYLE.get(v.kind, "")
    console.print(f"  verdict: [{style}]{v.kind}[/{style}]: {_e(v.reason)}")
    if v.zones:
        page_kb = v.page_size_kb or 4
        table = Table(header_style="bold", box=None, pad_edge=False)
        for column in ("node", "zone", "free kB", "must clear kB", "largest free order", "result"):
            table.add_column(column, justify="right" if "kB" in column else "left")
        for z in v.zones:
            need = None
            if z.effective_min_pages is not None:
                need = (z.effective_min_pages + (z.reserve_pages or 0)) * page_kb
            table.add_row(str(z.node), _e(z.zone), str(z.free_pages * page_kb),
                          "-" if need is None else str(need),
                          "-" if z.highest_free_order is None else str(z.highest_free_order),
                          "pass" if z.passed else f"fail ({z.failed_by or '?'})")
        console.print(table)
    console.print(f"  advice: {_e(item.advice)}")
    if r.trace:
        shown = [f"{'? ' if f.unreliable else ''}{f.function}{' [' + f.module + ']' if f.module else ''}"
                 for f in r.trace[:12]]
        console.print("  trace: " + _e(" < ".join(shown)) + (" ..." if len(r.trace) > 12 else ""))
