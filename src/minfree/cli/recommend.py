"""``minfree recommend``: min_free_kbytes candidates side by side, the choice and the knobs.

Reads the same evidence as the doctor (host or bundle, its logs, one vmstat sample) and
prints every sizing rule with its formula and inputs, the value chosen (the largest
candidate the evidence supports, as "at least", within the caps) and the other settings to
change, each with its reasons. ``--json`` prints the doctor document (docs/doctor-json.md),
whose ``candidates`` and ``recommendations`` are this command's answer.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from minfree.cli.doctor import add_common_arguments

    add_common_arguments(parser)
    parser.add_argument("--logs", metavar="PATH", nargs="+", action="extend", default=None,
                        help="kernel log files or directories (default: as the doctor)")


def run(args: argparse.Namespace) -> int:
    from minfree.analysis.findings import evaluate
    from minfree.cli.doctor import collect
    from minfree.outputs.doctor_json import doctor_document, render_json
    from minfree.outputs.doctor_text import render_recommend_text
    from minfree.recommend import recommend

    args.interval = 0.0  # sizing needs no reclaim-rate sample unless a bundle carries one
    args.vmstat_second = None
    diagnosis = collect(args)
    findings = evaluate(diagnosis)
    recs = recommend(diagnosis, findings, allow_high=args.allow_high)
    document = doctor_document(diagnosis, findings, recs)
    if args.json:
        sys.stdout.write(render_json(document))
    else:
        sys.stdout.write(render_recommend_text(document, color=sys.stdout.isatty()))
    return 0
