"""Human rendering of ``minfree inspect`` with rich, from the document that
:func:`minfree.outputs.inspect_json.build_inspect` builds (so text and JSON never disagree).

Order: a ``free -m`` summary; per zone free pages against the watermarks with the headroom
to each and the protection row; free blocks per order with the fragmentation indices; the vm
sysctls and THP mode; ``min_free_kbytes`` next to the kernel's own choices; reclaim rates when
two samples were taken; what could not be read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported lazily: `minfree --help` must not pay for it
    from rich.console import Console

_STATE_TEXT = {
    "below_min": "[bold red]below min[/]",
    "below_low": "[yellow]below low: kswapd awake[/]",
    "below_high": "[yellow]below high[/]",
    "ok": "[green]above high[/]",
    "empty": "[dim]empty[/]",
}


def _num(value: int | float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def _signed(value: int | float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:+,.1f}"
    return f"{value:+,}"


def _memory(console: Console, doc: dict[str, Any]) -> None:
    from rich.table import Table

    mem = doc["memory"]
    if mem is None:
        console.print("[dim]memory summary: proc/meminfo not available[/]")
        return
    table = Table(title="Memory (MiB, as free -m)", title_justify="left")
    table.add_column("")
    for name in ("total", "used", "free", "shared", "buff/cache", "available"):
        table.add_column(name, justify="right")
    table.add_row(
        "Mem:",
        *(_num(mem[k]) for k in ("total", "used", "free", "shared", "buff_cache", "available")),
    )
    if mem.get("swap_total") is not None:
        swap_used = (
            mem["swap_total"] - mem["swap_free"] if mem.get("swap_free") is not None else None
        )
        table.add_row(
            "Swap:", _num(mem["swap_total"]), _num(swap_used), _num(mem["swap_free"]), "", "", ""
        )
    console.print(table)


def _zones(console: Console, doc: dict[str, Any]) -> None:
    from rich.table import Table

    if not doc["zones"]:
        console.print("[dim]zones: proc/zoneinfo not available[/]")
        return
    has_promo = any("promo" in z["watermarks"] for z in doc["zones"])
    table = Table(
        title="Zones: free pages against the watermarks (pages / MiB; headroom = free - mark;"
        " atomic floor = what an order-0 GFP_ATOMIC allocation needs free)",
        title_justify="left",
    )
    table.add_column("node/zone")
    table.add_column("free", justify="right")
    names = ["min", "low", "high"] + (["promo"] if has_promo else [])
    for name in names:
        table.add_column(name, justify="right")
    for name in ("min", "low", "high"):
        table.add_column(f"to {name}", justify="right")
    table.add_column("atomic floor", justify="right")
    table.add_column("to floor", justify="right")
    table.add_column("state")
    table.add_column("boost", justify="right")
    table.add_column("protection", no_wrap=True)
    for z in doc["zones"]:
        marks = z["watermarks"]
        cells = [
            f"{z['node']}/{z['zone']}",
            f"{_num(z['free'])}\n{_num(z['free_mib'])}",
        ]
        for name in names:
            mark = marks.get(name)
            cells.append("-" if mark is None else f"{_num(mark['pages'])}\n{_num(mark['mib'])}")
        for name in ("min", "low", "high"):
            mark = marks[name]
            cells.append(f"{_signed(mark['headroom_pages'])}\n{_signed(mark['headroom_mib'])}")
        floor = z["gfp_atomic_floor"]
        if floor is None:
            cells += ["-", "-"]
        else:
            cells += [
                f"{_num(floor['pages'])}\n{_num(floor['mib'])}",
                f"{_signed(floor['headroom_pages'])}\n{_signed(floor['headroom_mib'])}",
            ]
        cells += [
            _STATE_TEXT.get(z["state"], z["state"]),
            _num(z["boost"]),
            "/".join(str(v) for v in z["protection"]),
        ]
        table.add_row(*cells)
    console.print(table)


def _fragmentation(console: Console, doc: dict[str, Any]) -> None:
    from rich.table import Table

    from minfree.kernel.fragmentation import format_index

    rows = doc["fragmentation"]
    if not rows:
        console.print("[dim]free blocks per order: proc/buddyinfo not available[/]")
        return
    orders = max(len(r["free_blocks"]) for r in rows)
    table = Table(
        title="Free blocks per order, unusable-free-space and fragmentation index (mm/vmstat.c)",
        title_justify="left",
    )
    table.add_column("node/zone")
    table.add_column("")
    for order in range(orders):
        table.add_column(str(order), justify="right")
    table.add_column("top order", justify="right")
    for r in rows:
        name = f"{r['node']}/{r['zone']}"
        table.add_row(
            name, "blocks", *(_num(n) for n in r["free_blocks"]), str(r["highest_free_order"])
        )
        table.add_row(
            "", "unusable", *(format_index(round(v * 1000)) for v in r["unusable_index"]), ""
        )
        table.add_row(
            "",
            "extfrag",
            *(format_index(round(v * 1000), width=2).strip() for v in r["fragmentation_index"]),
            "",
            end_section=True,
        )
    console.print(table)


def _settings(console: Console, doc: dict[str, Any]) -> None:
    from rich.table import Table

    settings = doc["settings"]
    source = settings.get("sysctl_source")
    title = "Settings" + (f" (from {source})" if source else "")
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("key")
    table.add_column("value")
    for key, value in settings["sysctl"].items():
        table.add_row(key, value)
    table.add_row("THP enabled", settings["thp_enabled"] or "-")
    table.add_row("THP defrag", settings["thp_defrag"] or "-")
    console.print(table)


def _min_free(console: Console, doc: dict[str, Any]) -> None:
    m = doc["min_free_kbytes"]
    if m is None:
        return
    d = m["kernel_default_detail"]
    t = m["thp_detail"]
    console.print("[bold]min_free_kbytes[/]")
    console.print(f"  current                 {_num(m['current'])} kB")
    implied = m.get("watermarks_imply")
    if implied is not None:
        inside = m["current"] is not None and implied[0] <= m["current"] <= implied[1]
        console.print(
            f"  zoneinfo min marks say  {_num(implied[0])}..{_num(implied[1])} kB"
            + ("" if inside or m["current"] is None else "  [yellow](not the current value)[/]")
        )
    console.print(
        f"  kernel default          {_num(m['kernel_default'])} kB  "
        f"(4*sqrt({_num(d['lowmem_kbytes'])} kB lowmem), cap {_num(d['cap_kbytes'])}: "
        f"{d['cap_reason']})"
    )
    counted = (
        "MemTotal (memory still being initialised)"
        if m.get("runtime_recalculation_counts_memtotal")
        else "lowmem"
    )
    console.print(
        f"  runtime recalculation   {_num(m['runtime_recalculation'])} kB  ({counted} minus "
        "today's high watermarks; a user-set value is kept if larger)"
    )
    active = {True: "THP on: applies", False: "THP off: does not apply"}.get(
        m["thp_active"], "THP mode not captured"
    )
    capped = ", capped at 5% of lowmem" if t["capped_at_5_percent"] else ""
    console.print(
        f"  THP recommendation      {_num(m['thp_recommended'])} kB  "
        f"(11 x {t['pageblock_pages']} pages x {t['zones_counted']} zones{capped}; {active})"
    )
    hold = m["kernel_would_hold"]
    console.print(
        f"  kernel would hold       {_num(hold) + ' kB' if hold is not None else '-'}  "
        f"({m['kernel_rule']})"
    )


def _reclaim(console: Console, doc: dict[str, Any]) -> None:
    from rich.table import Table

    r = doc["reclaim"]
    if r is None:
        return
    table = Table(
        title=f"Reclaim and compaction over {r['seconds']:g} s (/proc/vmstat)",
        title_justify="left",
    )
    table.add_column("counter")
    table.add_column("delta", justify="right")
    table.add_column("per second", justify="right")
    table.add_column("meaning")
    for name, entry in r["counters"].items():
        table.add_row(name, _num(entry["delta"]), f"{entry['per_second']:,.1f}", entry["meaning"])
    console.print(table)
    for label, key in (("kswapd", "kswapd_efficiency"), ("direct reclaim", "direct_efficiency")):
        if r[key] is not None:
            console.print(f"  {label} reclaimed {r[key] * 100:.0f}% of the pages it scanned")
    if r["unavailable"]:
        console.print(f"  [dim]not counted by this kernel: {', '.join(r['unavailable'])}[/]")
    if r["reset"]:
        console.print(f"  [yellow]went backwards (reboot?): {', '.join(r['reset'])}[/]")


def print_inspect(doc: dict[str, Any], *, console: Console | None = None) -> None:
    """Print every section of an ``inspect`` document."""
    from rich.console import Console

    if console is None:
        console = Console(highlight=False)
        if not console.is_terminal:
            console = Console(width=160, highlight=False)  # piped: one line per row
    kernel = f" (kernel {doc['kernel']})" if doc["kernel"] else ""
    console.print(f"[bold]{doc['source']}[/]{kernel}, page size {doc['page_size_bytes']} bytes")
    _memory(console, doc)
    _zones(console, doc)
    _fragmentation(console, doc)
    _settings(console, doc)
    _min_free(console, doc)
    _reclaim(console, doc)
    for note in doc["notes"]:
        console.print(f"[dim]note: {note}[/]")
    for item in doc["missing"]:
        console.print(f"[dim]missing: {item['path']} ({item['reason']})[/]")
