"""``minfree simulate``: replay a workload on a host's zones and find the smallest safe reserve.

    minfree simulate [--host live|PATH|PRESET] [--scenario NAME|FILE]
                     [--min-free-kbytes N | --sweep FROM:TO[:STEPS]]
                     [--watermark-scale-factor W] [--duration SECONDS] [--seeds N]
                     [--engine exact|fast] [--json] [--plot FILE] [--emit-log FILE]

One run reports atomic failures (by order, zone and actor, time of the first), direct
reclaim stalls, the lowest free level against each watermark, kswapd's busy time and the
memory the reserve holds back. A sweep runs every value over N seeds and names the smallest
``min_free_kbytes`` with zero atomic failures in every seed. Without ``--min-free-kbytes``
a run uses the host kernel's own default reserve.
"""

from __future__ import annotations

import argparse
import os
import sys

from minfree.errors import SourceError, UsageError

#: The exact engine keeps ~15 bytes per page frame; refuse hosts that would need more RAM
#: than this for the simulation itself.
EXACT_ENGINE_MAX_BYTES = 6 << 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", metavar="live|PATH|PRESET", default=None,
                        help="zones to simulate: 'live' (this host), a directory or bundle, or "
                             "a preset (64g-1node, 256g-2node); default: the scenario's preset")
    parser.add_argument("--scenario", metavar="NAME|FILE", default="aerospike-classic",
                        help="a shipped scenario (aerospike-classic, jumbo-frames, "
                             "fragmented-cache, healthy) or a TOML file")
    reserve = parser.add_mutually_exclusive_group()
    reserve.add_argument("--min-free-kbytes", metavar="N", default=None,
                         help="reserve to simulate (default: the host kernel's own default)")
    reserve.add_argument("--sweep", metavar="FROM:TO[:STEPS]", default=None,
                         help="sweep min_free_kbytes over a range (kB, or with K/M/G); "
                              "STEPS defaults to 10")
    parser.add_argument("--watermark-scale-factor", metavar="W", default=None,
                        help="vm.watermark_scale_factor (default: the host's, else 10)")
    parser.add_argument("--duration", metavar="SECONDS", default=None,
                        help="simulated seconds (default: the scenario's)")
    parser.add_argument("--seeds", metavar="N", default=None,
                        help="random seeds per value (default 1 for a run, 3 for a sweep)")
    parser.add_argument("--engine", choices=("exact", "fast"), default=None,
                        help="exact: every page frame (default for one run); "
                             "fast: free-block counts (default for a sweep)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--plot", metavar="FILE", default=None,
                        help="write a plot: .png, or .html (self-contained, inline SVG)")
    parser.add_argument("--emit-log", metavar="FILE", default=None,
                        help="write the simulated failures as kernel log reports of the era")


def _int(text: str | None, name: str, low: int, high: int) -> int | None:
    if text is None:
        return None
    try:
        value = int(str(text).strip(), 0)
    except ValueError:
        raise UsageError(f"{name}: not an integer: {text!r}") from None
    if not low <= value <= high:
        raise UsageError(f"{name}: {value} is outside {low}..{high}")
    return value


def _float(text: str | None, name: str, low: float, high: float) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{name}: not a number: {text!r}") from None
    if not low < value <= high:
        raise UsageError(f"{name}: {value} is outside ({low}, {high}]")
    return value


def resolve_host(spec: str | None, scenario_host: str):
    """A :class:`SimHost` from ``live``, a preset name, or a directory/bundle path."""
    from minfree.simulation.host import PRESETS, host_from_snapshot, preset_host

    name = spec or scenario_host
    if name in PRESETS:
        return preset_host(name)
    from minfree.sources.root import open_root
    from minfree.sources.snapshot import read_snapshot

    if name == "live":
        root = open_root(None)
        label = "this host"
    else:
        if not os.path.exists(name):
            raise UsageError(f"--host {name!r}: not a preset ({', '.join(sorted(PRESETS))}), "
                             "'live', or an existing directory or bundle")
        root = open_root(name)
        label = name
    snapshot = read_snapshot(root)
    if not snapshot.zones:
        raise SourceError(f"{label}: no zones (is proc/zoneinfo in it?)")
    return host_from_snapshot(snapshot, label=label)


def run(args: argparse.Namespace) -> int:
    from minfree.simulation.plan import default_min_free_kbytes
    from minfree.simulation.run import parse_sweep, simulate, sweep, sweep_values
    from minfree.simulation.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    host = resolve_host(args.host, scenario.host)
    mfk = _int(args.min_free_kbytes, "--min-free-kbytes", 0, 67_108_864)
    wsf = _int(args.watermark_scale_factor, "--watermark-scale-factor", 1, 3000)
    if wsf is None:
        wsf = host.watermark_scale_factor
    duration = _float(args.duration, "--duration", 0.0, 3600.0)
    seeds_n = _int(args.seeds, "--seeds", 1, 100)
    engine = args.engine or ("fast" if args.sweep else "exact")
    if engine == "exact":
        need = host.managed_pages * 15
        if need > EXACT_ENGINE_MAX_BYTES:
            raise UsageError(f"the exact engine would need ~{need >> 30} GiB for {host.label}; "
                             "use --engine fast")
    for target in (args.plot, args.emit_log):
        if target is not None:
            folder = os.path.dirname(os.path.abspath(target)) or "."
            if not os.path.isdir(folder):
                raise UsageError(f"{target}: directory {folder} does not exist")
    if args.plot is not None and not args.plot.lower().endswith((".png", ".html", ".htm")):
        raise UsageError("--plot FILE must end in .png or .html")

    if args.sweep:
        low, high, steps = parse_sweep(args.sweep)
        seeds = tuple(range(seeds_n or 3))
        values = sweep_values(low, high, steps)
        workers = 1
        if engine == "exact":
            workers = max(1, min(os.cpu_count() or 1, len(values) * len(seeds)))
        result = sweep(host, scenario, values, seeds=seeds, watermark_scale_factor=wsf,
                       duration_s=duration, engine=engine, workers=workers)
        if args.json:
            from minfree.outputs.simulate_json import sweep_json

            print(sweep_json(result))
        else:
            from minfree.outputs.simulate_text import render_sweep

            print(render_sweep(result))
        if args.plot:
            from minfree.outputs.simulate_plot import plot_sweep

            plot_sweep(result, args.plot)
        if args.emit_log:
            from minfree.simulation.emit_log import write_log

            worst = max(result.runs, key=lambda r: (r.atomic_failures, -r.min_free_kbytes))
            write_log(worst, args.emit_log, host=host, scenario=scenario)
        return 0

    seeds = tuple(range(seeds_n or 1))
    runs = [simulate(host, scenario, min_free_kbytes=mfk, watermark_scale_factor=wsf,
                     duration_s=duration, seed=s, engine=engine) for s in seeds]
    default = default_min_free_kbytes(host)
    if args.json:
        from minfree.outputs.simulate_json import runs_json

        print(runs_json(runs, default_min_free_kbytes=default))
    else:
        from minfree.outputs.simulate_text import render_runs

        print(render_runs(runs, default_min_free_kbytes=default))
    if args.plot:
        from minfree.outputs.simulate_plot import plot_run

        plot_run(runs[0], args.plot)
    if args.emit_log:
        from minfree.simulation.emit_log import write_log

        write_log(runs[0], args.emit_log, host=host, scenario=scenario)
        print(f"wrote {len(runs[0].snapshots)} report(s) to {args.emit_log}", file=sys.stderr)
    return 0
