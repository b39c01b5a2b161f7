"""``minfree fleet``: the doctor over many hosts' bundles at once, on Dask.

    minfree fleet PATH ... [--scheduler ADDRESS] [--workers N] [--json | --csv] [--html FILE]

Each PATH is a bundle (a sosreport folder, a tarball, a folder with one host's /proc
captures and logs) or a folder of bundles. The doctor runs on a local cluster of ``--workers``
processes (default: one per CPU), or on a running ``dask scheduler`` given with
``--scheduler tcp://host:8786`` (its workers must see the same paths); ``--workers 0`` runs in
this process. A bundle that cannot be read is one row with its error.
"""

from __future__ import annotations

import argparse
import os
import sys

from minfree.errors import UsageError

#: Without --workers, fleets smaller than this run in this process (no cluster start-up).
SMALL_FLEET = 40


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", metavar="PATH", nargs="+",
                        help="bundles (folders or tarballs) or folders of bundles")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="a running dask scheduler, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--workers", metavar="N", type=int, default=None,
                        help="local worker processes (default: one per CPU, or none below "
                             f"{SMALL_FLEET} bundles; 0: no Dask)")
    parser.add_argument("--profile", choices=("generic", "aerospike"), default="generic",
                        help="workload profile for every host, as for doctor")
    parser.add_argument("--batch-size", metavar="N", type=int, default=None,
                        help="bundles per Dask task (default: about 16 tasks per worker)")
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print the JSON document")
    form.add_argument("--csv", action="store_true", help="print one CSV line per host")
    parser.add_argument("--html", metavar="FILE", default=None,
                        help="also write a self-contained HTML page")
    parser.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                        help="progress bar on stderr (auto: when stderr is a terminal)")


def run(args: argparse.Namespace) -> int:
    from minfree.analysis.fleet_summary import summarize
    from minfree.fleet.discover import discover_bundles
    from minfree.fleet.run import run_fleet

    if args.workers is not None and not 0 <= args.workers <= 1024:
        raise UsageError(f"--workers must be between 0 and 1024 (was {args.workers})")
    if args.workers == 0 and args.scheduler:
        raise UsageError("--workers 0 runs without Dask: do not combine it with --scheduler")
    if args.batch_size is not None and args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1 (was {args.batch_size})")
    if args.scheduler is not None and "://" not in args.scheduler:
        raise UsageError(f"--scheduler wants an address like tcp://host:8786 "
                         f"(was {args.scheduler!r})")
    if args.html:
        folder = os.path.dirname(os.path.abspath(args.html))
        if not os.path.isdir(folder):
            raise UsageError(f"{args.html}: directory {folder} does not exist")
    bundles = discover_bundles(args.paths)
    if not bundles:
        raise UsageError("no bundles found in " + ", ".join(args.paths))
    workers = args.workers
    if workers is None:
        # Starting worker processes costs seconds; below this many bundles it is not repaid.
        workers = 0 if len(bundles) < SMALL_FLEET and not args.scheduler else (
            os.cpu_count() or 1)
    show = {"auto": None, "always": True, "never": False}[args.progress]
    rows = run_fleet(bundles, scheduler=args.scheduler, workers=workers,
                     profile=args.profile, show_progress=show, batch_size=args.batch_size)
    summary = summarize(rows)
    if args.json:
        from minfree.outputs.fleet_json import render_json

        sys.stdout.write(render_json(rows, summary))
    elif args.csv:
        from minfree.outputs.fleet_csv import render_csv

        sys.stdout.write(render_csv(rows))
    else:
        from minfree.outputs.fleet_text import render_text

        sys.stdout.write(render_text(rows, summary))
    if args.html:
        from minfree.cli.report import write_text_atomically
        from minfree.outputs.fleet_html import render_fleet_html

        write_text_atomically(args.html, render_fleet_html(rows, summary))
    return 0
