"""``minfree drop-caches [--level 1|2|3] [--yes]``: sync, drop clean caches, show the effect.

Level 1 drops the page cache, 2 reclaimable slab (dentries, inodes), 3 both
(``Documentation/admin-guide/sysctl/vm.rst``, drop_caches). Only clean objects are dropped,
so ``sync`` runs first to make dirty pages clean. It is a diagnostic tool, not a fix: the
next reads come from disk (a cold cache costs I/O), and the memory fills again.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

from minfree.errors import RefusedError, SourceError

PROC_DROP = "/proc/sys/vm/drop_caches"
WARNING = ("warning: the page cache is now cold; the next reads of those files come from disk "
           "(I/O and latency), and the cache fills again as the workload runs. Dropping caches "
           "does not prevent page allocation failures; a larger vm.min_free_kbytes does.")


@dataclass(frozen=True)
class MemorySample:
    free_kb: int | None
    cached_kb: int | None
    slab_reclaimable_kb: int | None
    available_kb: int | None


def sample(path: str = "/proc/meminfo") -> MemorySample:
    from minfree.parsers.meminfo import parse_meminfo

    try:
        with open(path) as handle:
            info = parse_meminfo(handle.read(), source=path)
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror}") from None
    return MemorySample(info.free_kb, info.cached_kb, info.sreclaimable_kb, info.available_kb)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--level", type=int, choices=(1, 2, 3), default=1,
                        help="1 page cache (default), 2 slab (dentries and inodes), 3 both")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _fmt(kb: int | None) -> str:
    return "unknown" if kb is None else f"{kb / 1024:.1f} MiB"


def _delta(a: int | None, b: int | None) -> str:
    return "" if a is None or b is None else f" ({(b - a) / 1024:+.1f} MiB)"


def run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        raise RefusedError("dropping caches needs root (rule: root-required; override: run as root)")
    if not os.access(PROC_DROP, os.W_OK) or os.statvfs(os.path.dirname(PROC_DROP)).f_flag & os.ST_RDONLY:
        raise RefusedError(f"{PROC_DROP} is read-only here (rule: read-only-proc-sys; no override: "
                           "run it on the host, not in a container)")
    if not args.yes:
        if not sys.stdin.isatty():
            raise RefusedError("no terminal to confirm on (rule: drop-caches asks first; override: --yes)")
        answer = input(f"sync and drop caches (level {args.level})? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise RefusedError("not confirmed: nothing was dropped")
    before = sample()
    started = time.monotonic()
    os.sync()
    synced = time.monotonic()
    try:
        with open(PROC_DROP, "w") as handle:
            handle.write(f"{args.level}\n")
    except OSError as error:
        raise SourceError(f"writing {PROC_DROP}: {error.strerror}") from None
    finished = time.monotonic()
    after = sample()
    out = sys.stdout
    out.write(f"sync took {synced - started:.3f} s, drop_caches={args.level} took {finished - synced:.3f} s\n")
    out.write(f"  MemFree       {_fmt(before.free_kb)} -> {_fmt(after.free_kb)}{_delta(before.free_kb, after.free_kb)}\n")
    out.write(f"  Cached        {_fmt(before.cached_kb)} -> {_fmt(after.cached_kb)}{_delta(before.cached_kb, after.cached_kb)}\n")
    out.write(f"  SReclaimable  {_fmt(before.slab_reclaimable_kb)} -> {_fmt(after.slab_reclaimable_kb)}"
              f"{_delta(before.slab_reclaimable_kb, after.slab_reclaimable_kb)}\n")
    out.write(f"  MemAvailable  {_fmt(before.available_kb)} -> {_fmt(after.available_kb)}\n")
    out.write(WARNING + "\n")
    return 0
