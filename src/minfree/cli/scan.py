"""``minfree scan [PATH ...]``: find, decode and explain page allocation failures in logs.

Exit codes: 0 (with ``--check``: no failure found), 1 (``--check`` and at least one
failure), 2 (unreadable input or bad arguments).
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", metavar="PATH",
        help="log files (.gz/.xz/.bz2 too), '-' for stdin, directories or sosreports/bundles; "
             "default: this host's kernel ring buffer")
    parser.add_argument("--all-logs", action="store_true",
                        help="also read this host's /var/log kernel logs and journalctl -k "
                             "(the same report in several sources counts once)")
    parser.add_argument("--json", action="store_true", help="print the JSON document "
                        "(schema minfree.scan/1, docs/scan-json.md)")
    parser.add_argument("-v", "--verbose", action="store_true", help="details of every report")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when any page allocation failure is found (for cron and scripts)")


def run(args: argparse.Namespace) -> int:
    from minfree.analysis.failure_report import explain_scan
    from minfree.sources.kernel_logs import read_failure_reports

    result = explain_scan(read_failure_reports(args.paths or None, all_logs=args.all_logs))
    if args.json:
        from minfree.outputs.scan_json import render_json

        sys.stdout.write(render_json(result) + "\n")
    else:
        from minfree.outputs.scan_text import render_text

        render_text(result, verbose=args.verbose)
    if args.check and result.failures:
        return 1
    return 0
