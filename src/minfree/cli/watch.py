"""``minfree watch [INTERVAL [COUNT]]``: zones, fragmentation, reclaim and failures, live.

On a terminal, a rich live view refreshed every INTERVAL seconds (default 1); otherwise one
plain line per interval (the first at once, with rates from the second on). COUNT stops
after that many updates. Ctrl-C ends it cleanly (exit 0). New page allocation failures are
followed from ``/dev/kmsg`` on the live host (``--no-kmsg`` turns that off).
"""

from __future__ import annotations

import argparse
import sys
import time

from minfree.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``INTERVAL [COUNT]`` positionals, ``--root`` and ``--no-kmsg``."""
    parser.add_argument("interval", nargs="?", default="1", metavar="INTERVAL",
                        help="seconds between updates (default 1; fractions allowed, at least 0.05)")
    parser.add_argument("count", nargs="?", default=None, metavar="COUNT",
                        help="stop after COUNT updates (default: run until Ctrl-C)")
    parser.add_argument("--root", metavar="PATH",
                        help="read a captured root or bundle instead of this host")
    parser.add_argument("--no-kmsg", action="store_true",
                        help="do not follow /dev/kmsg for new page allocation failures")


def _parse_interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"INTERVAL {text!r}: not a number of seconds") from None
    if not value == value or value < 0.05 or value > 86400:  # NaN, too small, too large
        raise UsageError(f"INTERVAL {text!r}: must be between 0.05 and 86400 seconds")
    return value


def _parse_count(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"COUNT {text!r}: must be a whole number of updates, at least 1")
    return int(text)


def run(args: argparse.Namespace) -> int:
    """Refresh until COUNT updates or Ctrl-C; 0 either way, 2 for bad arguments."""
    interval = _parse_interval(args.interval)
    count = _parse_count(args.count)

    from minfree.outputs.prometheus import FailureLog
    from minfree.sources.root import open_root

    root = open_root(args.root)
    failures = FailureLog(root, follow_kmsg=not args.no_kmsg)
    interactive = sys.stdout.isatty()
    try:
        if interactive:
            _run_live(root, failures, interval, count)
        else:
            _run_plain(root, failures, interval, count)
    except KeyboardInterrupt:
        # Ctrl-C is how a watch normally ends: no traceback, no error status.
        if not interactive:
            sys.stdout.flush()
        return 0
    finally:
        failures.close()
    return 0


def _poll(failures: object) -> tuple[list, str | None]:
    """New failures, or the reason the kernel log could not be read."""
    from minfree.errors import MinfreeError

    try:
        return failures.poll(), None  # type: ignore[attr-defined]
    except (OSError, MinfreeError, ValueError, NotImplementedError) as error:
        return [], f"{type(error).__name__}: {error}"


def _ticks(interval: float, count: int | None):
    """Yield once now and then every ``interval`` seconds (drift-free), ``count`` times."""
    start = time.monotonic()
    n = 0
    while count is None or n < count:
        if n:
            delay = start + n * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        yield n
        n += 1


def _run_plain(root, failures, interval: float, count: int | None) -> None:
    from minfree.outputs.prometheus import read_memory_sample
    from minfree.outputs.watch_view import plain_line

    previous = None
    first_poll = True
    for _ in _ticks(interval, count):
        current = read_memory_sample(root, include_sysctl=False)
        new, why = _poll(failures)
        if first_poll and failures.follow_kmsg:
            # The ring buffer's old reports are history, not news: show only later ones.
            new = []
        first_poll = False
        line = plain_line(current, previous, new, clock_text=time.strftime("%H:%M:%S"))
        if why:
            line += f" | kernel log: {why}"
        print(line, flush=True)
        previous = current


def _run_live(root, failures, interval: float, count: int | None) -> None:
    from rich.console import Console
    from rich.live import Live

    from minfree.outputs.prometheus import read_memory_sample
    from minfree.outputs.watch_view import render

    console = Console()
    previous = None
    recent: list = []
    first_poll = True
    title_base = f"minfree watch: {root.label}, every {interval:g}s (Ctrl-C to quit)"
    with Live(console=console, auto_refresh=False, screen=False, transient=False) as live:
        for _ in _ticks(interval, count):
            current = read_memory_sample(root, include_sysctl=False)
            new, why = _poll(failures)
            if first_poll and failures.follow_kmsg:
                new = []
            first_poll = False
            recent = (recent + new)[-20:]
            errors = dict(current.failed)
            if why:
                errors["kernel_log"] = why
            live.update(
                render(current, previous, recent, title=f"{title_base}  {time.strftime('%H:%M:%S')}",
                       new_failure_count=sum(1 + e.suppressed for e in new), errors=errors),
                refresh=True,
            )
            previous = current
