"""``minfree doctor``: the diagnosis of a host or a bundle, with reasons and a fix.

Reads the host (``/`` by default, or ``--root`` a directory, sosreport or tarball) and its
kernel logs (the ring buffer on the live host, the bundle's own logs, or ``--logs``), then
prints the verdict, the failures found, the memory picture, the findings and the
recommendations with the exact ``minfree apply`` command. ``--json`` prints the versioned
document of docs/doctor-json.md instead.

A second ``/proc/vmstat`` sample shows whether kswapd keeps up: on the live host the doctor
waits ``--interval`` seconds (default 3; 0 skips it); a bundle may carry ``proc/vmstat.2``
(timed by ``proc/uptime`` and ``proc/uptime.2``), or name any file with ``--vmstat-second``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

PROFILES = ("generic", "aerospike")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments doctor and recommend share."""
    parser.add_argument("--root", metavar="PATH", default=None,
                        help="a directory, sosreport or .tar.gz/.tar.xz bundle instead of this "
                             "host")
    parser.add_argument("--profile", choices=PROFILES, default="generic",
                        help="workload profile: aerospike adds its best-practice checks and "
                             "its min_free_kbytes rule")
    parser.add_argument("--aerospike-conf", metavar="PATH", default=None,
                        help="aerospike.conf to size the Aerospike rule from (default: "
                             "etc/aerospike/aerospike.conf in the root, else 1 GiB stages)")
    parser.add_argument("--allow-high", action="store_true",
                        help="allow a min_free_kbytes up to 10%% of RAM (default cap: 5%%)")
    parser.add_argument("--simulate", action="store_true",
                        help="also simulate this host to find the smallest safe reserve")
    parser.add_argument("--json", action="store_true", help="print the JSON document")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--logs", metavar="PATH", nargs="+", action="extend", default=None,
                        help="kernel log files or directories to scan (default: the ring "
                             "buffer on this host, the bundle's logs with --root)")
    parser.add_argument("--interval", metavar="SECONDS", type=float, default=None,
                        help="seconds between two /proc/vmstat samples on the live host "
                             "(default 3, 0 to skip); for a bundle with proc/vmstat.2 and no "
                             "uptime files, the time between its samples")
    parser.add_argument("--vmstat-second", metavar="FILE", default=None,
                        help="a second /proc/vmstat sample taken --interval seconds after "
                             "the root's")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when the verdict is 'at risk' or 'failing'")


def _interval(args: argparse.Namespace, live: bool) -> float | None:
    from minfree.analysis.diagnosis import DEFAULT_LIVE_INTERVAL_S
    from minfree.errors import UsageError

    value = getattr(args, "interval", None)
    if value is not None and (value < 0 or value != value or value > 3600):
        raise UsageError(f"--interval must be between 0 and 3600 seconds (was {value})")
    if value is None and live:
        return DEFAULT_LIVE_INTERVAL_S
    return value


def collect(args: argparse.Namespace) -> Any:
    """The Diagnosis for the arguments (shared with ``minfree recommend``).

    Reads the host once (:func:`minfree.sources.host_inputs.collect_host_inputs`), diagnoses
    it (:func:`minfree.analysis.diagnosis.diagnose`) and, with ``--simulate``, adds the
    simulator's safe reserve for the same snapshot
    (:func:`minfree.outputs.simulated_reserve.with_simulation`).
    """
    from minfree.analysis.diagnosis import diagnose
    from minfree.sources.host_inputs import collect_host_inputs
    from minfree.sources.root import open_root

    root = open_root(args.root)
    inputs = collect_host_inputs(
        root,
        logs=getattr(args, "logs", None),
        interval_s=_interval(args, root.is_live),
        profile=args.profile,
        aerospike_conf=args.aerospike_conf,
        vmstat_second=getattr(args, "vmstat_second", None),
    )
    diagnosis = diagnose(inputs)
    if args.simulate:
        from minfree.outputs.simulated_reserve import with_simulation

        diagnosis = with_simulation(diagnosis, inputs.snapshot).diagnosis
    return diagnosis


def run(args: argparse.Namespace) -> int:
    from minfree.analysis.findings import evaluate, verdict
    from minfree.outputs.doctor_json import doctor_document, render_json
    from minfree.recommend import recommend

    diagnosis = collect(args)
    findings = evaluate(diagnosis)
    recs = recommend(diagnosis, findings, allow_high=args.allow_high)
    document = doctor_document(diagnosis, findings, recs)
    if args.json:
        sys.stdout.write(render_json(document))
    else:
        from minfree.outputs.doctor_text import render_doctor_text

        color = sys.stdout.isatty()
        width = _terminal_width()
        sys.stdout.write(render_doctor_text(document, width=width, color=color))
    if getattr(args, "check", False) and verdict(findings).status != "healthy":
        return 1
    return 0


def _terminal_width() -> int:
    import shutil

    return max(80, min(140, shutil.get_terminal_size((100, 24)).columns))
