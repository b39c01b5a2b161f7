"""The ``minfree`` command: a thin dispatcher to one module per sub-command.

Sub-command modules are imported only when that command runs, so ``minfree --help`` stays
fast (no numpy, rich or prometheus imports). Each module ``minfree.cli.<name>`` provides::

    def add_arguments(parser: argparse.ArgumentParser) -> None: ...
    def run(args: argparse.Namespace) -> int: ...

Errors derived from :class:`minfree.errors.MinfreeError` become one line on stderr and exit
code 2; nothing else should escape.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module, one-line help). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("minfree.cli.doctor", "diagnose this host or a bundle: failures, memory, findings, recommendations"),
    "scan": ("minfree.cli.scan", "find, decode and explain page allocation failure reports in kernel logs"),
    "gfp": ("minfree.cli.gfp", "decode a GFP mask as the kernel of a given release prints and treats it"),
    "inspect": ("minfree.cli.inspect", "memory state, watermarks, fragmentation and reclaim activity"),
    "watermarks": ("minfree.cli.watermarks", "per-zone watermarks the kernel would set for given settings"),
    "recommend": ("minfree.cli.recommend", "reserve sizes (min_free_kbytes and friends) with their reasons"),
    "apply": ("minfree.cli.apply", "change vm settings safely: plan, verify, persist, journal"),
    "rollback": ("minfree.cli.rollback", "undo an apply exactly (runtime values and files)"),
    "history": ("minfree.cli.history", "list the applies recorded in the journal"),
    "drop-caches": ("minfree.cli.drop_caches", "sync and drop the page cache, with before/after numbers"),
    "simulate": ("minfree.cli.simulate", "simulate zones, kswapd and atomic bursts to find a safe reserve"),
    "watch": ("minfree.cli.watch", "live view of zones, fragmentation, reclaim and new failures"),
    "exporter": ("minfree.cli.exporter", "Prometheus exporter (HTTP or textfile) for reserves and failures"),
    "report": ("minfree.cli.report", "self-contained HTML report with plots"),
    "fleet": ("minfree.cli.fleet", "run the doctor over many hosts' bundles in parallel on Dask"),
}


def _build_parser(selected: str | None) -> argparse.ArgumentParser:
    from minfree import __version__

    parser = argparse.ArgumentParser(
        prog="minfree",
        description="Find, explain and prevent Linux 'page allocation failure' incidents.",
    )
    parser.add_argument("--version", action="version", version=f"minfree {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser)
            command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 "found something" for --check, 2 error)."""
    from minfree.errors import MinfreeError

    arguments = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in arguments if not a.startswith("-")), None)
    if selected not in COMMANDS:
        selected = None
    try:
        parser = _build_parser(selected)
        args = parser.parse_args(arguments)
        if getattr(args, "_run", None) is None:
            parser.print_help()
            return 0 if not arguments else 2
        return int(args._run(args) or 0)
    except MinfreeError as error:
        print(f"minfree: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("minfree: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error worth a traceback. Point stdout
        # at /dev/null so the interpreter's final flush does not raise again (the recipe of
        # the Python docs, "Note on SIGPIPE").
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
