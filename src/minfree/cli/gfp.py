"""``minfree gfp MASK [--kernel RELEASE] [--printed NAMES] [--json]``: decode a GFP mask.

MASK is hexadecimal as the kernel prints it (``0x2080020``, ``2080020``), optionally with
the names the kernel printed (``'0x820(GFP_ATOMIC)'``); decimal needs a ``dec:`` prefix.
Without ``--kernel`` the era is inferred from the printed names or the bits, and the output
says so. Bad input is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from minfree.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mask", metavar="MASK",
                        help="GFP mask in hex (0x2080020), optionally with printed names: "
                             "'0x820(GFP_ATOMIC)'; decimal needs a dec: prefix")
    parser.add_argument("--kernel", metavar="RELEASE",
                        help="kernel release (uname -r), e.g. 3.10.0-1160.el7.x86_64")
    parser.add_argument("--printed", metavar="NAMES",
                        help="the names the kernel printed after the hex, to check them")
    parser.add_argument("--era", metavar="KEY",
                        help="force a table: " + ", ".join(_era_keys()))
    parser.add_argument("--order", metavar="N", default="0",
                        help="allocation order (matters for ALLOC_HIGHATOMIC on 6.3+)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _era_keys() -> list[str]:
    from minfree.kernel.gfp_tables import ERAS

    return [era.key for era in ERAS]


def run(args: argparse.Namespace) -> int:
    from minfree.kernel.gfp import decode_gfp, split_mask_text
    from minfree.kernel.release import KernelRelease

    mask, printed_in_mask = split_mask_text(args.mask)
    printed = args.printed if args.printed is not None else printed_in_mask
    release = None
    if args.kernel is not None:
        release = KernelRelease.try_parse(args.kernel)
        if release is None:
            raise UsageError(f"--kernel {args.kernel!r}: not a kernel release (e.g. 5.15.0-91-generic)")
    if args.era is not None and args.era not in _era_keys():
        raise UsageError(f"--era {args.era!r}: unknown (known: {', '.join(_era_keys())})")
    if not args.order.isdigit() or int(args.order) > 20:
        raise UsageError(f"--order {args.order!r}: must be a whole number from 0 to 20")
    decoding = decode_gfp(mask, release, printed, order=int(args.order), era=args.era)
    if args.json:
        json.dump(decoding.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from minfree.outputs.gfp_text import print_gfp

    print_gfp(decoding)
    return 0
