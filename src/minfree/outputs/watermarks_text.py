"""Human rendering of ``minfree watermarks`` with rich: one row per zone, today's values
next to the ones the kernel would set, and what the change takes from applications.

Everything shown was computed in :mod:`minfree.kernel.watermarks`; this module lays it out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported lazily: `minfree --help` must not pay for it
    from rich.console import Console

    from minfree.kernel.watermarks import WatermarkComparison


def _mib(pages: int, page_size: int) -> str:
    return f"{pages * page_size / 1048576:,.1f}"


def _pair(today: int | None, new: int | None, changed: bool) -> str:
    if today is None and new is None:
        return "-"
    if not changed or today == new:
        return f"{new:,}" if new is not None else "-"
    return f"{today if today is not None else '-':,} → {new:,}" if new is not None else "-"


def print_watermarks(
    comparison: WatermarkComparison,
    *,
    source: str,
    kernel: str | None,
    missing: tuple = (),
    console: Console | None = None,
) -> None:
    """Print the per-zone table and the summary lines."""
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=150)  # piped: do not squeeze the table into 80 columns
    c = comparison
    page = c.page_size_bytes
    changed = c.changed
    wsf_now = c.current_watermark_scale_factor
    title = f"Watermarks (pages) on {source}" + (f" (kernel {kernel})" if kernel else "")
    if changed:
        title += (
            f": min_free_kbytes {c.current_min_free_kbytes or 'unknown'} → {c.min_free_kbytes}, "
            f"watermark_scale_factor {wsf_now if wsf_now is not None else 'unknown'}"
            f" → {c.watermark_scale_factor}"
        )
    else:
        title += (
            f": min_free_kbytes {c.min_free_kbytes}, watermark_scale_factor "
            f"{wsf_now if wsf_now is not None else 'n/a (before 4.6)'}"
        )
    table = Table(title=title, title_justify="left")
    table.add_column("node", justify="right")
    table.add_column("zone")
    table.add_column("managed", justify="right")
    for name in ("min", "low", "high", "promo"):
        table.add_column(name, justify="right")
    table.add_column("high MiB", justify="right")
    table.add_column("protection", no_wrap=True)
    for z, new in zip(c.zones, c.proposed, strict=True):
        # "today" is what zoneinfo printed, not our recomputation of it.
        table.add_row(
            str(new.node),
            new.zone,
            f"{new.size_pages:,}",
            _pair(z.min_pages, new.min_pages, changed),
            _pair(z.low_pages, new.low_pages, changed),
            _pair(z.high_pages, new.high_pages, changed),
            _pair(z.promo_pages, new.promo_pages, changed),
            _mib(new.high_pages, page),
            "/".join(str(v) for v in new.protection_pages),
        )
    console.print(table)
    console.print(f"formulas: {c.features.describe()}")
    ch = c.change
    if changed:
        verb = "takes" if ch.high_pages >= 0 else "gives back"
        console.print(
            f"The change {verb} {_mib(abs(ch.high_pages), page)} MiB "
            f"{'from' if ch.high_pages >= 0 else 'to'} applications: kswapd keeps "
            f"{_mib(sum(w.high_pages for w in c.proposed), page)} MiB free instead of "
            f"{_mib(sum(z.high_pages for z in c.zones), page)} MiB (sum of high); "
            f"MemAvailable changes by {'-' if ch.totalreserve_pages > 0 else '+'}"
            f"{_mib(abs(ch.totalreserve_pages), page)} MiB (totalreserve_pages)."
        )
        console.print(
            "Even GFP_ATOMIC stops at about 3/8 of min: "
            f"{_mib(sum(w.min_pages for w in c.proposed) * 3 // 8, page)} MiB over all zones."
        )
    for assumption in c.assumptions:
        console.print(f"[yellow]assumed:[/] {assumption}")
    if not c.current_matches_zoneinfo and c.current_min_free_kbytes is not None:
        console.print(
            "[yellow]note:[/] today's values recomputed from the sizes shown differ from "
            "zoneinfo: the kernel computed them when the zones were smaller (early boot, "
            "before the initramfs was freed) and has not recomputed since; a write to "
            "min_free_kbytes would recompute them as shown."
        )
    for item in missing:
        if not (item.path == "proc/zoneinfo" or item.path.startswith("proc/sys/vm")):
            continue  # other files do not change these numbers
        console.print(f"[dim]missing: {item.path} ({item.reason})[/]")
