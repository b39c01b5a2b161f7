"""Charts for the HTML report and the fleet page, as inline SVG drawn by matplotlib.

Why inline SVG from matplotlib: the report must open on an air-gapped jump host and be
attached to a ticket, so nothing may be fetched at view time. An SVG is text inside the HTML
file (no base64 blobs, no JavaScript runtime such as Plotly's ~3 MB bundle), scales for print,
and its labels stay searchable. matplotlib is already a dependency and runs headless with
the Agg backend.

Readability for colour-blind readers and in black-and-white print: colours come from the
Okabe-Ito palette (distinguishable under the common colour-vision deficiencies), and every
series also differs by something that is not colour: a hatch pattern for bars, a marker
shape for lines and points. The heatmap uses ``cividis`` (designed to read the same with
deuteranopia and in greyscale) and prints each cell's number.

Every function takes plain data (lists and numbers, already computed by the caller) and
returns an ``<svg>`` element as text; nothing here decides anything about the host.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

#: Okabe & Ito (2008), "Color Universal Design": black, orange, sky blue, bluish green,
#: yellow, blue, vermillion, reddish purple.
OKABE_ITO: tuple[str, ...] = (
    "#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
)
#: Colours for series on a white background (black is kept for lines and markers).
SERIES_COLOURS: tuple[str, ...] = (*OKABE_ITO[1:], OKABE_ITO[0])
HATCHES: tuple[str, ...] = ("", "//", "..", "\\\\", "xx", "--", "++", "oo", "||", "**", "OO")
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h")

#: How related events are drawn on the failure timeline (colour, marker, legend label).
EVENT_STYLE: Mapping[str, tuple[str, str, str]] = {
    "oom-killer": ("#000000", "v", "OOM kills"),
    "allocation-stall": ("#D55E00", "X", "allocation stalls"),
    "vmalloc-failure": ("#CC79A7", "D", "vmalloc failures"),
    "slub-unable-to-allocate": ("#0072B2", "s", "SLUB unable to allocate"),
    "legacy-alloc-pages-failure": ("#009E73", "P", "2.4-era __alloc_pages failures"),
}


#: Screen-reader names of the charts (``aria-label``), by chart name.
CHART_LABELS: Mapping[str, str] = {
    "timeline": "page allocation failures per hour by order, with related events",
    "zones": "free memory of each zone against its min, low and high watermarks",
    "heatmap": "free blocks per order and zone",
    "fragmentation": "fragmentation index per order and zone",
    "sweep": "simulated atomic failures against vm.min_free_kbytes",
    "ratio": "hosts by ratio of min_free_kbytes to the doctor's target",
}


def order_style(order: int) -> tuple[str, str]:
    """(colour, hatch) of an allocation order: colour and pattern both change per order."""
    index = max(order, 0) if order is not None else 0
    return SERIES_COLOURS[index % len(SERIES_COLOURS)], HATCHES[index % len(HATCHES)]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _figure(name: str, width: float, height: float) -> tuple[Any, Any]:
    plt = _pyplot()
    import matplotlib

    # Deterministic element ids, distinct per chart, so that several SVGs inlined in one
    # page never share a clip-path or marker id that means different things.
    matplotlib.rcParams["svg.hashsalt"] = f"minfree-{name}"
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: searchable, small
    matplotlib.rcParams["hatch.linewidth"] = 0.6
    return plt.subplots(figsize=(width, height))


def svg_text(fig: Any, name: str) -> str:
    """The figure as an ``<svg>`` element to inline in HTML (XML prolog and DOCTYPE dropped).

    ``name`` becomes the element's ``id`` and a ``data-chart`` attribute (tests find charts
    by it).
    """
    plt = _pyplot()
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = f"minfree-{name}"
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    start = text.find("<svg")
    text = text[start:]
    label = CHART_LABELS.get(name, name)
    text = re.sub(r"<svg ", f'<svg id="chart-{name}" data-chart="{name}" role="img" '
                  f'aria-label="{label}" ', text, count=1)
    return text


def _empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])


def timeline_svg(
    buckets: Sequence[str],
    failures_by_order: Mapping[int, Sequence[int]],
    events_by_kind: Mapping[str, Sequence[int]],
    *,
    axis_label: str,
) -> str:
    """Failures per time bucket stacked by order, related events as markers on a twin axis.

    ``buckets`` are the x labels (hours); ``failures_by_order[order][i]`` and
    ``events_by_kind[kind][i]`` are counts in bucket ``i``.
    """
    width = min(14.0, max(7.0, 0.45 * len(buckets) + 4))
    fig, ax = _figure("timeline", width, 3.8)
    if not buckets:
        _empty(ax, "no page allocation failures or related events in the logs")
        return svg_text(fig, "timeline")
    x = list(range(len(buckets)))
    bottom = [0] * len(buckets)
    for order in sorted(failures_by_order):
        counts = list(failures_by_order[order])
        colour, hatch = order_style(order)
        label = f"order {order}" if order >= 0 else "order not printed"
        ax.bar(x, counts, bottom=bottom, color=colour, hatch=hatch, edgecolor="#333333",
               linewidth=0.6, label=label, width=0.7)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_ylabel("page allocation failures")
    ax.set_xlabel(axis_label)
    ax.set_xticks(x)
    ax.set_xticklabels(buckets, rotation=35 if len(buckets) > 3 else 0, ha="right"
                       if len(buckets) > 3 else "center", fontsize=8)
    ax.set_ylim(0, max(1, max(bottom)) * 1.15)
    handles, labels = ax.get_legend_handles_labels()
    drawn = {k: v for k, v in events_by_kind.items() if any(v)}
    if drawn:
        twin = ax.twinx()
        offset = -0.2
        for kind, counts in drawn.items():
            colour, marker, label = EVENT_STYLE.get(kind, ("#555555", "o", kind))
            xs = [i + offset for i, c in enumerate(counts) if c]
            ys = [c for c in counts if c]
            twin.scatter(xs, ys, marker=marker, s=60, color=colour, edgecolor="black",
                         linewidth=0.6, zorder=5, label=label)
            offset += 0.13
        twin.set_ylabel("related events")
        twin.set_ylim(0, max(max(v) for v in drawn.values()) * 1.3 + 0.5)
        h2, l2 = twin.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, loc="upper left", fontsize=8, ncol=min(4, len(labels) or 1),
              frameon=True)
    ax.grid(axis="y", linestyle=":", linewidth=0.5)
    ax.set_axisbelow(True)
    return svg_text(fig, "timeline")


def zone_watermarks_svg(zones: Sequence[Mapping[str, Any]]) -> str:
    """Per zone: free memory against the min/low/high bands, today and recommended.

    Each zone entry: ``label``, ``free_kb``, ``today`` and optionally ``recommended``
    (each a mapping with ``min_kb``, ``low_kb``, ``high_kb``). One row per zone, each with
    its own scale (a DMA zone is a thousand times smaller than Normal).
    """
    plt = _pyplot()
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "minfree-zones"
    matplotlib.rcParams["svg.fonttype"] = "none"
    rows = max(1, len(zones))
    fig, axes = plt.subplots(rows, 1, figsize=(9, 1.25 * rows + 0.9), squeeze=False)
    bands = (("under min: only atomic callers", "min_kb", 0, "#D55E00", "//"),
             ("min to low: kswapd wakes", "low_kb", "min_kb", "#E69F00", ".."),
             ("low to high: kswapd reclaims up to high", "high_kb", "low_kb", "#56B4E9", "\\\\"))
    if not zones:
        _empty(axes[0][0], "no zone data in this input")
        return svg_text(fig, "zones")
    for ax, zone in zip((row[0] for row in axes), zones, strict=False):
        settings = [("today", zone["today"])]
        if zone.get("recommended"):
            settings.append(("recommended", zone["recommended"]))
        top = float(zone["free_kb"] or 0)
        for y, (_name, marks) in enumerate(settings):
            for label, upper, lower, colour, hatch in bands:
                lo = marks[lower] if isinstance(lower, str) else lower
                hi = marks[upper]
                if hi is None or lo is None:
                    continue
                ax.barh(y, hi - lo, left=lo, height=0.6, color=colour, hatch=hatch,
                        edgecolor="#333333", linewidth=0.5, label=label if y == 0 else None)
                top = max(top, float(hi))
        free = zone["free_kb"]
        ax.axvline(free, color="black", linewidth=2.0, label="free memory now")
        ax.plot([free] * len(settings), list(range(len(settings))), marker="D", color="black",
                linestyle="none", markersize=6)
        ax.set_yticks(range(len(settings)))
        ax.set_yticklabels([name for name, _ in settings], fontsize=8)
        ax.set_xlim(0, top * 1.12 + 1)
        ax.set_title(zone["label"], fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", linestyle=":", linewidth=0.5)
        ax.set_axisbelow(True)
        ax.invert_yaxis()
    axes[-1][0].set_xlabel("kB")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return svg_text(fig, "zones")


def free_blocks_heatmap_svg(zone_labels: Sequence[str], counts: Sequence[Sequence[int]]) -> str:
    """Free blocks per order (columns) per zone (rows), log colour scale, numbers printed."""
    from matplotlib.colors import LogNorm

    rows = max(1, len(zone_labels))
    orders = max((len(r) for r in counts), default=0)
    fig, ax = _figure("heatmap", max(6.0, 0.62 * orders + 2.5), 0.5 * rows + 1.4)
    if not zone_labels or orders == 0:
        _empty(ax, "no free-list (buddyinfo) data in this input")
        return svg_text(fig, "heatmap")
    matrix = [[(row[k] if k < len(row) else 0) for k in range(orders)] for row in counts]
    shown = [[max(v, 0.5) for v in row] for row in matrix]  # log scale: 0 drawn as lowest
    peak = max(max(row) for row in matrix) or 1
    image = ax.imshow(shown, aspect="auto", cmap="cividis",
                      norm=LogNorm(vmin=0.5, vmax=max(peak, 1)))
    for i, row in enumerate(matrix):
        for k, value in enumerate(row):
            level = math.log(max(value, 0.5) / 0.5) / math.log(max(peak, 1) / 0.5 + 1e-9) \
                if peak > 0.5 else 0
            ax.text(k, i, f"{value:,}" if value < 100000 else f"{value / 1000:.0f}k",
                    ha="center", va="center", fontsize=7,
                    color="black" if level > 0.55 else "white")
    ax.set_xticks(range(orders))
    ax.set_xticklabels([str(k) for k in range(orders)], fontsize=8)
    ax.set_yticks(range(len(zone_labels)))
    ax.set_yticklabels(zone_labels, fontsize=8)
    ax.set_xlabel("order (block of 2^order pages)")
    bar = fig.colorbar(image, ax=ax, pad=0.02)
    bar.set_label("free blocks (log scale)", fontsize=8)
    return svg_text(fig, "heatmap")


def fragmentation_svg(zone_labels: Sequence[str], indices: Sequence[Sequence[float]],
                      *, extfrag_threshold: int = 500) -> str:
    """Fragmentation index per order for each zone (-1: the request would succeed).

    ``extfrag_threshold`` (thousandths, ``vm.extfrag_threshold``) is drawn as a line: for
    orders above 3, compaction skips a zone whose index is between 0 and it.
    """
    fig, ax = _figure("fragmentation", 8.0, 3.4)
    if not zone_labels:
        _empty(ax, "no free-list (buddyinfo) data in this input")
        return svg_text(fig, "fragmentation")
    for n, (label, values) in enumerate(zip(zone_labels, indices, strict=True)):
        colour = SERIES_COLOURS[n % len(SERIES_COLOURS)]
        ax.plot(range(len(values)), values, marker=MARKERS[n % len(MARKERS)], color=colour,
                markeredgecolor="black", markeredgewidth=0.5,
                linestyle=("-", "--", "-.", ":")[n % 4], label=label)
    level = extfrag_threshold / 1000
    ax.axhline(level, color="#555555", linewidth=0.8, linestyle=":")
    ax.text(0.05, level + 0.02, f"vm.extfrag_threshold {extfrag_threshold}: at or below (and "
            "above 0), compaction skips the zone for orders > 3", fontsize=7, color="#333333")
    ax.set_ylim(-1.08, 1.08)
    ax.set_xlabel("order")
    ax.set_ylabel("fragmentation index")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(linestyle=":", linewidth=0.5)
    return svg_text(fig, "fragmentation")


def sweep_svg(
    points: Sequence[Sequence[float]],
    *,
    safe_kb: int | None,
    current_kb: int | None,
    recommended_kb: int | None,
    default_kb: int | None = None,
) -> str:
    """Simulated atomic failures against ``min_free_kbytes`` (worst and mean over seeds).

    ``points``: (min_free_kbytes, worst failures, mean failures[, mean stalls]); the stalls,
    when given, go on a twin axis.
    """
    fig, ax = _figure("sweep", 8.0, 3.6)
    if not points:
        _empty(ax, "no simulation points")
        return svg_text(fig, "sweep")
    xs = [p[0] for p in points]
    ax.plot(xs, [p[1] for p in points], marker="s", color="#D55E00", markeredgecolor="black",
            markeredgewidth=0.5, label="atomic failures, worst seed")
    ax.plot(xs, [p[2] for p in points], marker="o", color="#E69F00", linestyle="--",
            markeredgecolor="black", markeredgewidth=0.5, label="atomic failures, mean")
    for value, label, style, colour in ((safe_kb, "smallest safe", "-", "#009E73"),
                                        (current_kb, "current", ":", "#000000"),
                                        (recommended_kb, "recommended", "-.", "#CC79A7"),
                                        (default_kb, "kernel default", (0, (1, 3)), "#555555")):
        if value is not None:
            ax.axvline(value, linestyle=style, color=colour, linewidth=1.4,
                       label=f"{label}: {value:,} kB")
    ax.set_xlabel("vm.min_free_kbytes (kB)")
    ax.set_ylabel("simulated atomic failures")
    handles, labels = ax.get_legend_handles_labels()
    if all(len(p) > 3 for p in points):
        twin = ax.twinx()
        twin.plot(xs, [p[3] for p in points], marker="^", color="#0072B2", linestyle="-.",
                  markeredgecolor="black", markeredgewidth=0.5,
                  label="direct-reclaim stalls, mean")
        twin.set_ylabel("direct-reclaim stalls")
        h2, l2 = twin.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, fontsize=7, loc="upper right")
    ax.grid(linestyle=":", linewidth=0.5)
    return svg_text(fig, "sweep")


def histogram_svg(name: str, values: Sequence[float], *, xlabel: str, bins: int = 20) -> str:
    """A plain histogram (fleet page: spread of reserve / recommendation ratios)."""
    fig, ax = _figure(name, 7.0, 3.0)
    if not values:
        _empty(ax, "no hosts with both values")
        return svg_text(fig, name)
    ax.hist(values, bins=bins, color="#56B4E9", edgecolor="black", hatch="//", linewidth=0.6)
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1.2, label="on target (ratio 1)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("hosts")
    ax.legend(fontsize=8)
    ax.grid(axis="y", linestyle=":", linewidth=0.5)
    return svg_text(fig, name)
