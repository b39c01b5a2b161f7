"""Rendering for ``minfree watch``: a live rich view, or one plain line per interval.

The view shows, per zone, free pages as a bar against the min/low/high watermarks with the
headroom above min; the free blocks per order with the highest free order; reclaim and
compaction activity per second since the previous sample; and the page allocation failures
that appeared in the kernel log meanwhile, with their verdict. Nothing here reads the
host: :mod:`minfree.cli.watch` passes in two consecutive
:class:`~minfree.outputs.prometheus.MemorySample` values and the new failures.

The plain line (for pipes and logs) is stable and greppable::

    >>> from minfree.model.zone import Zone
    >>> from minfree.outputs.prometheus import MemorySample
    >>> z = Zone(node=0, name="Normal", index=2, free_pages=1000, min_pages=700,
    ...          low_pages=875, high_pages=1050, managed_pages=131072,
    ...          free_blocks=(10, 4, 0, 1))
    >>> print(plain_line(MemorySample(0.0, zones=(z,)), None, [], clock_text="12:00:00"))
    12:00:00 0/Normal free=1000 min=700 low=875 high=1050 headroom=+300 top_order=3 | rates n/a | failures +0
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minfree.analysis.reclaim_activity import ReclaimActivity
    from minfree.model.zone import Zone
    from minfree.outputs.prometheus import FailureEvent, MemorySample

#: (counter name in :func:`minfree.analysis.reclaim_activity.reclaim_activity`, short
#: label for the plain line) in display order.
RATE_FIELDS: tuple[tuple[str, str], ...] = (
    ("pgscan_kswapd", "scan_kswapd"),
    ("pgscan_direct", "scan_direct"),
    ("pgsteal_kswapd", "steal_kswapd"),
    ("pgsteal_direct", "steal_direct"),
    ("allocstall", "allocstall"),
    ("compact_stall", "compact_stall"),
    ("compact_fail", "compact_fail"),
    ("kswapd_low_wmark_hit_quickly", "low_wmark_hit_quickly"),
)


def reclaim_rates(previous: MemorySample | None, current: MemorySample) -> ReclaimActivity | None:
    """Reclaim activity between two samples; None for the first one or a zero interval.

    The arithmetic (era-neutral counters, counters that went backwards left out) is
    :func:`minfree.analysis.reclaim_activity.reclaim_activity`, the one ``inspect`` uses.
    """
    if previous is None or previous.vmstat is None or current.vmstat is None:
        return None
    interval = current.monotonic_seconds - previous.monotonic_seconds
    if interval <= 0:
        return None
    from minfree.analysis.reclaim_activity import reclaim_activity

    return reclaim_activity(previous.vmstat, current.vmstat, interval)


def _signed(value: int) -> str:
    return f"+{value}" if value >= 0 else str(value)


def _zone_text(zone: Zone) -> str:
    top = zone.highest_free_order()
    parts = [
        f"{zone.node}/{zone.name}",
        f"free={zone.free_pages}",
        f"min={zone.min_pages}",
        f"low={zone.low_pages}",
        f"high={zone.high_pages}",
        f"headroom={_signed(zone.free_pages - zone.min_pages)}",
    ]
    if top is not None:
        parts.append(f"top_order={top}")
    return " ".join(parts)


def _rate_text(rates: ReclaimActivity | None) -> str:
    if rates is None:
        return "rates n/a"
    items = []
    for name, label in RATE_FIELDS:
        value = rates.rate(name)
        if value is not None:
            items.append(f"{label}={value:.0f}/s")
    return " ".join(items) if items else "rates n/a"


def _failure_text(event: FailureEvent) -> str:
    verdict = f" verdict={event.verdict}" if event.verdict else ""
    who = f"{event.process} " if event.process else ""
    hidden = f" (+{event.suppressed} suppressed)" if event.suppressed else ""
    return f"{who}order:{event.order} {event.gfp} context={event.context}{verdict}{hidden}"


def plain_line(
    current: MemorySample,
    previous: MemorySample | None,
    new_failures: Sequence[FailureEvent],
    *,
    clock_text: str,
) -> str:
    """One line per interval for a non-terminal: zones, rates, new failures."""
    zones = "; ".join(_zone_text(z) for z in current.zones) or "zones n/a"
    line = f"{clock_text} {zones} | {_rate_text(reclaim_rates(previous, current))}"
    count = sum(1 + e.suppressed for e in new_failures)
    line += f" | failures +{count}"
    if new_failures:
        line += ": " + "; ".join(_failure_text(e) for e in new_failures[-3:])
    if current.failed:
        line += " | unreadable: " + ",".join(sorted(current.failed))
    return line


# --------------------------------------------------------------------------------------
# rich view
# --------------------------------------------------------------------------------------
def _bar(zone: Zone, width: int = 24) -> Any:
    """Free pages on a scale of 0 to 4 x high, with the min (m), low (l), high (h) marks.

    A zone far above its watermarks (the usual case) fills the bar and ends in ``»``; the
    interesting part, free pages approaching high, low and min, stays readable.
    """
    from rich.text import Text

    scale_top = max(zone.high_pages * 4, 1)
    filled = min(width, round(zone.free_pages * width / scale_top))
    if zone.free_pages < zone.min_pages:
        style = "bold red"
    elif zone.free_pages < zone.low_pages:
        style = "yellow"
    else:
        style = "green"
    cells = ["█" if i < filled else "·" for i in range(width)]
    styles = [style if i < filled else "dim" for i in range(width)]
    if zone.free_pages > scale_top:
        cells[-1] = "»"
    for mark, letter in ((zone.min_pages, "m"), (zone.low_pages, "l"), (zone.high_pages, "h")):
        position = min(width - 1, round(mark * width / scale_top))
        cells[position] = letter
        styles[position] = "bold magenta"
    text = Text()
    for cell, cell_style in zip(cells, styles, strict=True):
        text.append(cell, style=cell_style)
    return text


def _rate_cell(rates: ReclaimActivity | None, name: str) -> Any:
    from rich.text import Text

    if rates is None:
        return Text("…", style="dim")
    value = rates.rate(name)
    if value is None:
        return Text("n/a", style="dim")
    alarming = value > 0 and name in {"pgscan_direct", "pgsteal_direct", "allocstall", "compact_fail"}
    return Text(f"{value:,.0f}", style="bold red" if alarming else "")


def render(
    current: MemorySample,
    previous: MemorySample | None,
    recent_failures: Sequence[FailureEvent],
    *,
    title: str,
    new_failure_count: int = 0,
    errors: Mapping[str, str] | None = None,
) -> Any:
    """The rich renderable for one refresh of the live view.

    Compact on purpose (about 16 lines for three zones) so it fits an 80x24 terminal
    without the live display cropping it.
    """
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    zones = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    zones.add_column("zone", no_wrap=True, min_width=8)
    for name in ("free", "min", "low", "high", "over min"):
        zones.add_column(name, justify="right", no_wrap=True)
    zones.add_column("free vs m/l/h", no_wrap=True)
    for zone in current.zones:
        headroom = zone.free_pages - zone.min_pages
        zones.add_row(
            f"{zone.node}/{zone.name}",
            str(zone.free_pages),
            str(zone.min_pages),
            str(zone.low_pages),
            str(zone.high_pages),
            Text(_signed(headroom), style="bold red" if headroom < 0 else ""),
            _bar(zone, width=24),
        )

    orders = max((len(z.free_blocks) for z in current.zones if z.free_blocks), default=0)
    blocks = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 0))
    blocks.add_column("free blocks", no_wrap=True, min_width=8)
    for order in range(orders):
        blocks.add_column(f"o{order}", justify="right", no_wrap=True)
    blocks.add_column("top", justify="right", no_wrap=True)
    for zone in current.zones:
        if not zone.free_blocks:
            continue
        top = zone.highest_free_order()
        row: list[Any] = [f"{zone.node}/{zone.name}"]
        row += [str(n) if n else Text("0", style="dim") for n in zone.free_blocks]
        row += [""] * (orders - len(zone.free_blocks))
        row.append(Text(str(top), style="bold red" if top is not None and top < 2 else "bold"))
        blocks.add_row(*row)

    rates = reclaim_rates(previous, current)
    reclaim = Text("reclaim/s  ", style="bold")
    reclaim.append("kswapd scanned ").append(_rate_cell(rates, "pgscan_kswapd"))
    reclaim.append(" stolen ").append(_rate_cell(rates, "pgsteal_kswapd"))
    reclaim.append(" | direct scanned ").append(_rate_cell(rates, "pgscan_direct"))
    reclaim.append(" stolen ").append(_rate_cell(rates, "pgsteal_direct"))
    stalls = Text("stalls/s   ", style="bold")
    stalls.append("allocation ").append(_rate_cell(rates, "allocstall"))
    stalls.append(" | compaction ").append(_rate_cell(rates, "compact_stall"))
    stalls.append(" failed ").append(_rate_cell(rates, "compact_fail"))
    stalls.append(" | kswapd low wmark hit quickly ").append(
        _rate_cell(rates, "kswapd_low_wmark_hit_quickly"))

    parts: list[Any] = [Text(title, style="bold"), zones, blocks, reclaim, stalls]
    header = Text(f"Page allocation failures: +{new_failure_count} this interval",
                  style="bold red" if new_failure_count else "bold")
    parts.append(header)
    for event in list(recent_failures)[-5:]:
        parts.append(Text("  " + _failure_text(event), style="red"))
    if errors:
        parts.append(Text("unreadable: " + "; ".join(f"{k}: {v}" for k, v in sorted(errors.items())),
                          style="yellow"))
    return Group(*parts)


def describe_failures(events: Iterable[FailureEvent]) -> list[str]:
    """One text line per failure (for logs and tests)."""
    return [_failure_text(e) for e in events]
