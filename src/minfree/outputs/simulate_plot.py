"""Plots for ``minfree simulate --plot FILE``: PNG, or self-contained HTML with inline SVG.

A run: free pages of the most loaded zone (the one that came closest to its min) against
its min/low/high watermarks over time, with atomic failures marked and kswapd's activity as
a band. A sweep: atomic failures and direct-reclaim stalls against ``min_free_kbytes``,
the smallest safe value marked. Matplotlib runs with the Agg backend (no display needed).
"""

from __future__ import annotations

import html
import io
import os
import tempfile
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from minfree.simulation.run import RunResult, SweepResult


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str, title: str) -> None:
    """PNG as is; HTML as one page holding the SVG inline. Written atomically."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix=".minfree-plot-", dir=folder)
    os.close(fd)
    try:
        if path.lower().endswith((".html", ".htm")):
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg", bbox_inches="tight")
            svg = buffer.getvalue()
            svg = svg[svg.index("<svg"):]
            page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    f"<title>{html.escape(title)}</title></head><body>"
                    f"<h1 style=\"font-family:sans-serif;font-size:1.1em\">{html.escape(title)}"
                    f"</h1>\n{svg}\n</body></html>\n")
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(page)
        else:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _focus_zone(run: RunResult) -> int:
    """The zone that came closest to (or furthest below) its min watermark."""
    return int(np.argmin([z.lowest_free_pages - z.min_pages for z in run.zones]))


def plot_run(run: RunResult, path: str) -> None:
    plt = _figure()
    z = _focus_zone(run)
    zone = run.zones[z]
    free = run.samples_free[:, z]
    n = len(free)
    t = (np.arange(n) + 1) * run.sample_s
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(t, free, lw=0.8, color="#1f77b4", label=f"{zone.name} free (lowest per {run.sample_s * 1000:g} ms)")
    for value, name, color in ((zone.min_pages, "min", "#d62728"), (zone.low_pages, "low", "#ff7f0e"),
                               (zone.high_pages, "high", "#2ca02c")):
        ax.axhline(value, color=color, lw=1, ls="--", label=f"{name} {value}")
    boost = run.samples_boost[:, z]
    if boost.any():
        ax.plot(t, zone.min_pages + boost, color="#d62728", lw=0.6, alpha=0.6, label="min + boost")
    failed = run.samples_failures > 0
    if failed.any():
        ax.scatter(t[failed], free[failed], marker="x", color="black", s=18,
                   label=f"atomic failures ({run.atomic_failures} in all)", zorder=3)
    awake = run.samples_kswapd[:, zone.node] > 0
    if awake.any():
        ax.fill_between(t, 0, free.max() * 1.05, where=awake, color="#9467bd", alpha=0.12,
                        step="mid", label="kswapd awake")
    ax.set_xlabel("simulated seconds")
    ax.set_ylabel(f"pages ({run.page_size_bytes // 1024} KiB)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize=8)
    title = (f"{run.scenario}: min_free_kbytes {run.min_free_kbytes}, {run.engine} engine, "
             f"seed {run.seed}")
    ax.set_title(title, fontsize=10)
    _save(fig, path, title)
    plt.close(fig)


def plot_sweep(result: SweepResult, path: str) -> None:
    plt = _figure()
    x = [p.min_free_kbytes / 1024 for p in result.points]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(x, [p.max_failures for p in result.points], "o-", color="#d62728",
            label="atomic failures (worst seed)")
    ax.plot(x, [p.mean_failures for p in result.points], ".--", color="#d62728", alpha=0.6,
            label="atomic failures (mean)")
    ax.set_xlabel("min_free_kbytes (MiB)")
    ax.set_ylabel("atomic failures")
    ax2 = ax.twinx()
    ax2.plot(x, [p.mean_stalls for p in result.points], "s-", color="#1f77b4", ms=4,
             label="direct-reclaim stalls (mean)")
    ax2.set_ylabel("stalls")
    safe = result.safe_min_free_kbytes
    if safe is not None:
        ax.axvline(safe / 1024, color="#2ca02c", lw=1.5, label=f"smallest safe: {safe} kB")
    ax.axvline(result.default_min_free_kbytes / 1024, color="grey", ls=":",
               label=f"kernel default: {result.default_min_free_kbytes} kB")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper right", fontsize=8)
    title = (f"{result.scenario}: sweep over {len(result.points)} values x "
             f"{len(result.seeds)} seeds ({result.engine} engine)")
    ax.set_title(title, fontsize=10)
    _save(fig, path, title)
    plt.close(fig)
