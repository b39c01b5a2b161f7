"""``minfree inspect [--root PATH] [--interval SECONDS] [--json]``: memory state, watermarks,
fragmentation, settings and (with ``--interval``) reclaim activity of a host or a bundle.

A bundle missing files still gets an answer: every section that can be computed is shown,
and what is missing is listed with the reason. Only a root with nothing usable at all (no
zoneinfo and no meminfo) is an error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from minfree.errors import SourceError, UsageError

#: Longest --interval accepted (a typo like 6000 should not hang a terminal for hours).
MAX_INTERVAL_SECONDS = 3600.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        metavar="PATH",
        help="a directory laid out like / or a sosreport, or a .tar.gz/.tar.xz bundle "
        "(default: this host)",
    )
    parser.add_argument(
        "--interval",
        metavar="SECONDS",
        help="read /proc/vmstat twice, SECONDS apart, and show reclaim rates (live host only)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _interval(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--interval {text!r}: not a number of seconds") from None
    if not math.isfinite(value) or value <= 0 or value > MAX_INTERVAL_SECONDS:
        raise UsageError(
            f"--interval {text!r}: must be more than 0 and at most {MAX_INTERVAL_SECONDS:g} seconds"
        )
    return value


def run(args: argparse.Namespace) -> int:
    from minfree.sources.root import open_root
    from minfree.sources.snapshot import read_snapshot

    interval = _interval(args.interval)
    root = open_root(args.root)
    if interval is not None and not root.is_live:
        raise UsageError("--interval needs the live host: a bundle is one moment in time")
    activity = None
    if interval is not None:
        activity = _sample_reclaim(root, interval)
    snapshot = read_snapshot(root)
    if snapshot.zoneinfo is None and snapshot.meminfo is None:
        reasons = "; ".join(
            f"{path} ({snapshot.why_missing(path) or 'not read'})"
            for path in ("proc/zoneinfo", "proc/meminfo")
        )
        raise SourceError(f"{snapshot.label}: nothing to inspect: {reasons}")
    from minfree.outputs.inspect_json import build_inspect

    document = build_inspect(snapshot, activity)
    if args.json:
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from minfree.outputs.inspect_text import print_inspect

    print_inspect(document)
    return 0


def _sample_reclaim(root, interval: float):
    """Two reads of proc/vmstat ``interval`` seconds apart (monotonic clock)."""
    import time

    from minfree.analysis.reclaim_activity import reclaim_activity
    from minfree.parsers.vmstat import parse_vmstat

    def sample():
        text = root.read_text("proc/vmstat")
        if text is None:
            raise SourceError(f"{root.label}: cannot read proc/vmstat for --interval")
        return parse_vmstat(text, "proc/vmstat"), time.monotonic()

    first, start = sample()
    time.sleep(interval)
    second, end = sample()
    return reclaim_activity(first, second, end - start)
