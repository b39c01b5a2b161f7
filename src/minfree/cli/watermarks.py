"""``minfree watermarks [--root PATH] [--min-free-kbytes N] [--watermark-scale-factor W] [--json]``.

The per-zone min/low/high/promo the kernel would set for those values on this host (or a
bundle), next to today's, and the memory the change takes from applications. Without options
the prediction uses the current values, so it must equal /proc/zoneinfo.
"""

from __future__ import annotations

import argparse
import json
import sys

from minfree.errors import SourceError, UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        metavar="PATH",
        help="a directory laid out like / or a sosreport, or a .tar.gz/.tar.xz bundle "
        "(default: this host)",
    )
    parser.add_argument(
        "--min-free-kbytes", metavar="N", help="vm.min_free_kbytes to predict for (kB)"
    )
    parser.add_argument(
        "--watermark-scale-factor",
        metavar="W",
        help="vm.watermark_scale_factor to predict for (1/10000 of each zone)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _int_option(name: str, key: str, text: str | None, release: object) -> int | None:
    if text is None:
        return None
    from minfree.kernel.sysctl_catalog import validate

    problem = validate(key, text.strip(), release)
    if problem is not None:
        raise UsageError(f"--{name} {text!r}: {problem}")
    return int(text.strip())


def run(args: argparse.Namespace) -> int:
    from minfree.kernel.watermarks import compare_settings
    from minfree.sources.root import open_root
    from minfree.sources.snapshot import read_snapshot, require_zones

    root = open_root(args.root)
    snapshot = read_snapshot(root)
    require_zones(snapshot)
    release = snapshot.release
    mfk = _int_option("min-free-kbytes", "vm.min_free_kbytes", args.min_free_kbytes, release)
    wsf = _int_option(
        "watermark-scale-factor", "vm.watermark_scale_factor", args.watermark_scale_factor, release
    )
    zones = snapshot.zoneinfo.zones if snapshot.zoneinfo is not None else ()
    try:
        comparison = compare_settings(
            zones,
            snapshot.sysctl,
            release=release,
            page_size_bytes=snapshot.page_size_bytes,
            min_free_kbytes=mfk,
            watermark_scale_factor=wsf,
        )
    except ValueError as error:
        reason = snapshot.why_missing("proc/sys/vm/min_free_kbytes")
        hint = ""
        if mfk is None:
            from minfree.kernel.watermarks import detect_features, implied_min_free_kbytes

            implied = implied_min_free_kbytes(
                zones,
                features=detect_features(zones, release=release, sysctl=snapshot.sysctl),
                page_size_bytes=snapshot.page_size_bytes,
            )
            if implied is not None:
                hint = f"; the printed min watermarks imply {implied[0]}..{implied[1]} kB"
            hint += "; give --min-free-kbytes to predict anyway"
        raise SourceError(
            f"{snapshot.label}: {error}" + (f" ({reason})" if reason else "") + hint
        ) from None
    if not comparison.current_matches_zoneinfo and comparison.current_min_free_kbytes:
        from minfree.kernel.watermarks import min_share_shortfall_pages

        shortfall = min_share_shortfall_pages(
            zones,
            comparison.current_min_free_kbytes,
            features=comparison.features,
            page_size_bytes=snapshot.page_size_bytes,
        )
        if shortfall:
            listed = ", ".join(f"{z.node}/{z.name}" for z in zones)
            raise SourceError(
                f"{snapshot.label}: proc/zoneinfo lists only {listed}, whose min watermarks "
                f"miss {shortfall} pages of min_free_kbytes {comparison.current_min_free_kbytes}: "
                "zones are missing (truncated file?) or the sysctls were captured at another time"
            )
    kernel = str(release) if release is not None else None
    if args.json:
        from minfree.outputs.watermarks_json import watermarks_as_dict

        document = watermarks_as_dict(
            comparison,
            source=snapshot.label,
            kernel=kernel,
            missing=snapshot.missing,
            notes=snapshot.notes,
        )
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from minfree.outputs.watermarks_text import print_watermarks

    print_watermarks(comparison, source=snapshot.label, kernel=kernel, missing=snapshot.missing)
    return 0
