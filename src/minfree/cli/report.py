"""``minfree report``: the doctor's diagnosis as one self-contained HTML page with charts.

    minfree report [--root PATH] [--logs PATH ...] [--from-json FILE]
                   [--simulate | --simulation FILE] --html FILE

Reads the host (``/`` by default, or ``--root``) and its kernel logs like ``minfree doctor``,
or re-renders a saved document (``--from-json``: a ``minfree doctor --json`` document, or the
report data embedded in an earlier report and saved with ``--save-data``). ``--simulation``
adds the sweep plot from ``minfree simulate --sweep ... --json`` output; ``--simulate`` runs
the simulator on this host (as ``doctor --simulate``) and plots its sweep. The page is written
atomically; an existing file is kept as ``FILE.bak``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from minfree.errors import ParseError, SourceError, UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", metavar="PATH", default=None,
                        help="a directory, sosreport or .tar.gz/.tar.xz bundle instead of this "
                             "host")
    parser.add_argument("--logs", metavar="PATH", nargs="+", action="extend", default=None,
                        help="kernel log files or directories (default: the ring buffer on "
                             "this host, the bundle's logs with --root)")
    parser.add_argument("--from-json", metavar="FILE", default=None,
                        help="render a saved 'minfree doctor --json' document (or report data "
                             "from --save-data) instead of reading a host")
    parser.add_argument("--simulation", metavar="FILE", default=None,
                        help="'minfree simulate --sweep ... --json' output to plot in the report")
    parser.add_argument("--simulate", action="store_true",
                        help="also simulate this host (as doctor --simulate) and plot the sweep")
    parser.add_argument("--profile", choices=("generic", "aerospike"), default="generic",
                        help="workload profile, as for doctor")
    parser.add_argument("--aerospike-conf", metavar="PATH", default=None,
                        help="aerospike.conf to size the Aerospike rule from")
    parser.add_argument("--allow-high", action="store_true",
                        help="allow a min_free_kbytes up to 10%% of RAM (default cap: 5%%)")
    parser.add_argument("--interval", metavar="SECONDS", type=float, default=None,
                        help="seconds between two /proc/vmstat samples on the live host "
                             "(default 3, 0 to skip), as for doctor")
    parser.add_argument("--save-data", metavar="FILE", default=None,
                        help="also write the report data (JSON, schema minfree.report/1)")
    parser.add_argument("--html", metavar="FILE", required=True, help="the page to write")


def write_text_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically; a previous file is kept as ``path.bak``."""
    from minfree.apply.safe_write import atomic_write

    if os.path.isdir(path):
        raise UsageError(f"{path}: is a directory")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{path}: directory {folder} does not exist")
    if os.path.exists(path):
        try:
            with open(path, "rb") as handle:
                old = handle.read()
        except OSError as error:
            raise SourceError(f"cannot read {path} to back it up: {error.strerror}") from None
        atomic_write(path + ".bak", old)
    atomic_write(path, text.encode("utf-8"))


def load_json(path: str, what: str) -> Any:
    """A JSON file, with one-line errors for the usual ways it goes wrong."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(256 * 1024 * 1024 + 1)
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror}") from None
    if len(raw) > 256 * 1024 * 1024:
        raise ParseError(f"{what} larger than 256 MiB", source=path)
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ParseError(f"{what} is not UTF-8 text", source=path) from None
    except json.JSONDecodeError as error:
        raise ParseError(f"not JSON: {error.msg}", source=path, line=error.lineno) from None


def _data_from_json(path: str, simulation: Any) -> dict[str, Any]:
    from minfree.outputs.html_report import SCHEMA, report_data

    loaded = load_json(path, "--from-json")
    schema = loaded.get("schema") if isinstance(loaded, dict) else None
    if schema == SCHEMA:
        if not isinstance(loaded.get("doctor"), dict):
            raise ParseError("report data without its doctor document", source=path)
        if simulation is not None:
            from minfree.outputs.html_report import simulation_summary

            loaded["simulation"] = simulation_summary(simulation)
        return loaded
    if schema == "minfree.doctor/1":
        for field in ("verdict", "settings", "findings", "recommendations"):
            if field not in loaded:
                raise ParseError(f"doctor document without '{field}'", source=path)
        try:
            return report_data(loaded, simulation=simulation)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            raise ParseError(f"not a usable doctor document: {type(error).__name__}: {error}",
                             source=path) from None
    raise ParseError(f"not a minfree doctor document (schema {schema!r}; expected "
                     f"'minfree.doctor/1' or '{SCHEMA}')", source=path)


def run(args: argparse.Namespace) -> int:
    from minfree.outputs.html_report import collect_report_data, render_html

    if args.simulate and (args.simulation or args.from_json):
        raise UsageError("--simulate runs a new simulation: do not combine it with --simulation "
                         "or --from-json")
    if args.from_json and (args.root or args.logs):
        raise UsageError("--from-json renders a saved document: do not combine it with --root "
                         "or --logs")
    for target in (args.html, args.save_data):
        if target is None:
            continue
        folder = os.path.dirname(os.path.abspath(target))
        if not os.path.isdir(folder):
            raise UsageError(f"{target}: directory {folder} does not exist")
    simulation = None
    if args.simulation:
        simulation = load_json(args.simulation, "--simulation")
        if not isinstance(simulation, dict) or not isinstance(simulation.get("runs"), list):
            raise ParseError("not 'minfree simulate --json' output (no runs[])",
                             source=args.simulation)
    if args.from_json:
        data = _data_from_json(args.from_json, simulation)
    else:
        if args.root is not None and not os.path.exists(args.root):
            raise SourceError(f"{args.root}: no such file or directory")
        interval = args.interval
        if interval is not None and not 0 <= interval <= 3600:
            raise UsageError(f"--interval must be between 0 and 3600 seconds (was {interval})")
        if interval is None and args.root in (None, "/"):
            from minfree.analysis.diagnosis import DEFAULT_LIVE_INTERVAL_S

            interval = DEFAULT_LIVE_INTERVAL_S
        data = collect_report_data(args.root, logs=args.logs, profile=args.profile,
                                   interval_s=interval,
                                   aerospike_conf=args.aerospike_conf,
                                   allow_high=args.allow_high, simulation=simulation,
                                   simulate=args.simulate)
    if args.from_json:
        # A hand-edited or foreign document may have the right schema but wrong shapes.
        try:
            page = render_html(data)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            raise ParseError(f"not a usable document: {type(error).__name__}: {error}",
                             source=args.from_json) from None
    else:
        page = render_html(data)
    if args.save_data:
        write_text_atomically(args.save_data, json.dumps(data, indent=1, default=str) + "\n")
    write_text_atomically(args.html, page)
    verdict = (data["doctor"].get("verdict") or {}).get("status")
    print(f"wrote {args.html} ({len(page.encode()):,} bytes): {verdict}", file=sys.stderr)
    return 0
