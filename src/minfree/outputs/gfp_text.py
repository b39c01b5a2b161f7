"""Human rendering of a decoded GFP mask (``minfree gfp``), with rich.

Everything said here was decided in :mod:`minfree.kernel.gfp`; this module only lays it out:
the names as the kernel prints them, then one line per question an operator asks (may it
sleep, does it wake kswapd, how deep into the reserve may it go, which zones, will it warn).

    >>> from minfree.kernel.gfp import decode_gfp
    >>> text = render_gfp_plain(decode_gfp(0x820, "6.8.0"))
    >>> text.splitlines()[0]
    '0x820  GFP_ATOMIC'
    >>> "3/8 of the min watermark" in text
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported lazily: `minfree --help` must not pay for it
    from rich.console import Console, RenderableType

    from minfree.kernel.gfp import GfpDecoding


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def gfp_rows(decoding: GfpDecoding) -> list[tuple[str, str]]:
    """(label, text) rows shared by the rich and the plain rendering."""
    from minfree.kernel.gfp import alloc_flag_names

    era = decoding.era_label + (" (inferred)" if decoding.era_inferred else "")
    zones = ", ".join(decoding.zones) if decoding.zones else "none (invalid zone modifiers)"
    if decoding.highest_zone is not None:
        zones += f" (highest: {decoding.highest_zone}"
        if decoding.highest_zone == "HighMem":
            zones += "; Normal on 64-bit kernels"
        zones += ")"
    flags = alloc_flag_names(decoding.alloc_flags, decoding.era) or ["none"]
    rows = [
        ("kernel era", f"{era}: {decoding.era_reason}"),
        ("may sleep", f"{_yes_no(decoding.can_sleep)} — {decoding.sleep_reason}"),
        ("wakes kswapd", f"{_yes_no(decoding.wakes_kswapd)} — {decoding.kswapd_reason}"),
        ("ALLOC_ flags", "|".join(flags) + " (slow path, ordinary task)"),
        ("reserve", decoding.reserve_discount),
        ("zones", zones),
        ("warns", "no: __GFP_NOWARN hides its failures" if decoding.nowarn
         else "yes: a failure prints a report"),
        ("compound", "yes (__GFP_COMP)" if decoding.comp else "no"),
    ]
    if decoding.memalloc or decoding.nomemalloc:
        parts = []
        if decoding.memalloc:
            parts.append("__GFP_MEMALLOC: may use the emergency reserve")
        if decoding.nomemalloc:
            parts.append("__GFP_NOMEMALLOC: never uses the emergency reserve")
        rows.append(("emergency", "; ".join(parts)))
    rows.append(("flags", " ".join(decoding.flags) or "(none)"))
    if decoding.printed is not None:
        verdict = "matches" if decoding.printed_matches else f"differs from {decoding.names!r}"
        rows.append(("printed", f"{decoding.printed or '(empty)'}: {verdict}"))
    for ctx in decoding.other_contexts:
        label = {"rt_task": "if rt task", "oom_victim": "if OOM victim",
                 "interrupt": "in interrupt"}.get(ctx.context, ctx.context)
        names = "|".join(alloc_flag_names(ctx.alloc_flags, decoding.era)) or "none"
        rows.append((label, f"{names}: {ctx.reserve_discount}"))
    return rows


def headline(decoding: GfpDecoding) -> str:
    """``0x820  GFP_ATOMIC`` (a zero mask shows ``(no flags)``)."""
    return f"{decoding.hex}  {decoding.names or '(no flags)'}"


def render_gfp(decoding: GfpDecoding) -> RenderableType:
    """A rich renderable: the headline and a two-column table of meanings."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, text in gfp_rows(decoding):
        table.add_row(label, text)
    title = Text(headline(decoding), style="bold cyan")
    return Group(title, table)


def print_gfp(decoding: GfpDecoding, console: Console | None = None) -> None:
    """Print :func:`render_gfp` on ``console`` (stdout by default)."""
    from rich.console import Console

    (console or Console()).print(render_gfp(decoding))


def render_gfp_plain(decoding: GfpDecoding) -> str:
    """The same content as plain text (no colours), for logs and tests."""
    rows = gfp_rows(decoding)
    width = max(len(label) for label, _ in rows)
    lines = [headline(decoding)]
    lines += [f"{label.ljust(width)}  {text}" for label, text in rows]
    return "\n".join(lines)
