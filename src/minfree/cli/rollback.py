"""``minfree rollback [ID|--last] [--root PATH]``: undo an apply exactly."""

from __future__ import annotations

import argparse
import sys

from minfree.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", nargs="?", metavar="ID", help="journal id (a unique prefix is enough)")
    parser.add_argument("--last", action="store_true", help="the newest apply not yet undone (default)")
    parser.add_argument("--root", metavar="PATH", help="a directory laid out like a root (default: this host)")


def run(args: argparse.Namespace) -> int:
    from minfree.apply.rollback import rollback
    from minfree.outputs.apply_text import render_rollback

    if args.id and args.last:
        raise UsageError("give an ID or --last, not both")
    result = rollback(args.root, None if args.last else args.id)
    sys.stdout.write(render_rollback(result))
    return 0
