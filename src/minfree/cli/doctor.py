"""``minfree doctor`` (first version): the scan of this host's kernel log, explained.

This is the scan part of the doctor only; the full diagnosis (memory state, settings,
recommendations) replaces it.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="log files or directories instead of this host's kernel log")
    parser.add_argument("--json", action="store_true", help="print the scan JSON document")
    parser.add_argument("-v", "--verbose", action="store_true", help="details of every report")


def run(args: argparse.Namespace) -> int:
    from minfree.cli import scan

    args.all_logs = False
    args.check = False
    return scan.run(args)
