"""``minfree history [--root PATH]``: the applies recorded in the journal, oldest first."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", metavar="PATH", help="a directory laid out like a root (default: this host)")


def run(args: argparse.Namespace) -> int:
    from minfree.apply.journal import Journal
    from minfree.apply.plan import resolve_root
    from minfree.outputs.apply_text import render_history

    root, _live = resolve_root(args.root)
    journal = Journal(root)
    sys.stdout.write(render_history(journal.entries(), journal.problems()))
    return 0
