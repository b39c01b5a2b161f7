#!/usr/bin/env python3
"""Generate a fleet of host bundles from the real fixtures, with a manifest of what was planted.

    python tools/make_fleet.py OUT [--count 1000] [--seed 1]

Every bundle starts from one of the real captures in ``tests/fixtures`` (doctor scenarios and
roots, from 32 MiB ARM boards to two-node servers: the memory sizes vary with the template)
with its own kernel logs left out. On top of it the generator plants:

- vm settings as ``proc/sys/vm/*`` files (they win over a sosreport's ``sysctl -a``):
  ``min_free_kbytes`` from a list of common values, and the fleet's majority for
  ``swappiness`` 60, ``vfs_cache_pressure`` 100, ``zone_reclaim_mode`` 0,
  ``watermark_scale_factor`` 10, ``watermark_boost_factor`` 15000, THP ``madvise``/``madvise``,
  except on a few hosts that get another value (recorded as deviants);
- kernel logs: on about a third of the hosts one or two real logs from
  ``tests/fixtures/kernel-logs/reports`` with failures of order 0 to 3, whose number and orders
  come from that folder's ``index.tsv`` ground truth (so the doctor must say ``failing``);
- a few bundles that cannot be read: a truncated tarball, bytes that are not a tarball, an
  empty folder, a folder with an empty ``proc``.

Layouts: a plain folder per host, a ``.tar.gz`` (one top-level folder), or a sosreport-style
folder ``sosreport-<host>-<date>`` whose ``hostname`` file names the host.

``OUT/manifest.json`` lists every bundle (``host``, ``path``, ``layout``, ``template``,
``planted``, ``expect``) and the fleet-wide expectation (``summary``): hosts, unreadable,
failing, failures by order, and the hosts that differ from the majority per setting. Files
that the plants do not touch are hard links to the fixtures when the filesystem allows
(planted files are always new files, never writes through a link).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import shutil
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"

#: Real captures, relative to FIXTURES (their own kernel logs are left out of the copies).
TEMPLATES: tuple[str, ...] = (
    "scenarios/healthy",
    "scenarios/thp-raises-reserve",
    "scenarios/reserve-too-high",
    "scenarios/kswapd-behind",
    "scenarios/boot-override",
    "scenarios/debian13-no-sysctl-conf-link",
    "roots/centos-stream9-5.14.0-325",
    "roots/ubuntu-3.2.0-58-generic",
    "roots/pcp-meminfo-root-001",
    "roots/pcp-meminfo-root-002-numa2",
    "roots/pcp-meminfo-root-005",
    "roots/pcp-meminfo-root-007-numa2",
    "roots/android-armv7-3.4.5",
    "roots/xilinx-armv7-4.4.0",
    "roots/zte-router-armv7-4.1.25",
)

#: Where a kernel log would be found in a bundle (see minfree.sources.logs.LOG_PATTERNS).
LOG_PLACES = ("var/log", "sos_commands/kernel/dmesg", "sos_commands/logs")

MIN_FREE_VALUES = (8192, 16384, 45056, 65536, 67584, 90112, 131072, 262144)
MAJORITY = {
    "swappiness": "60",
    "vfs_cache_pressure": "100",
    "zone_reclaim_mode": "0",
    "watermark_scale_factor": "10",
    "watermark_boost_factor": "15000",
}
#: per setting: probability that a host deviates, and the values it then gets
DEVIATIONS = {
    "swappiness": (0.03, ("1", "10", "100")),
    "vfs_cache_pressure": (0.02, ("50", "200")),
    "zone_reclaim_mode": (0.01, ("1",)),
    "watermark_scale_factor": (0.02, ("100", "200")),
    "thp_enabled": (0.03, ("always",)),
}
THP_TEXT = {
    "enabled": {"madvise": "always [madvise] never\n", "always": "[always] madvise never\n"},
    "defrag": {"madvise": "always defer defer+madvise [madvise] never\n"},
}
CORRUPT_KINDS = ("truncated-tar", "not-a-tar", "empty-folder", "empty-proc")


def low_order_logs() -> list[dict]:
    """Fixture logs whose failures all have order <= 3, with their ground truth."""
    index = FIXTURES / "kernel-logs" / "reports" / "index.tsv"
    with index.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    out = []
    for row in rows:
        orders = [int(o) for o in row["orders"].split(",") if o.strip().lstrip("-").isdigit()]
        if len(orders) == 1 and 0 <= orders[0] <= 3:
            out.append({"file": row["file"], "failures": int(row["n_failures"]),
                        "order": orders[0]})
    return out


def check_templates() -> None:
    for rel in TEMPLATES:
        if not (FIXTURES / rel).is_dir():
            raise SystemExit(f"template {rel} is missing")


def is_log(rel: Path) -> bool:
    """A template's own kernel log: left out so that the plants alone decide the failures."""
    text = rel.as_posix()
    return any(text == p or text.startswith(p) for p in LOG_PLACES) or text.endswith(".log")


def link_tree(src: Path, dst: Path) -> None:
    """Mirror ``src`` into ``dst``: hard links where possible, copies otherwise."""
    for folder, _dirs, files in os.walk(src):
        rel = Path(folder).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            if name == "SCENARIO.md" or is_log(rel / name):
                continue
            source, target = Path(folder) / name, dst / rel / name
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)


def plant(path: Path, text: str | bytes) -> None:
    """Write a new file (unlinking first: never write through a hard link to a fixture)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


def make_tarball(folder: Path, target: Path) -> None:
    with tarfile.open(target, "w:gz", compresslevel=1) as tar:
        tar.add(folder, arcname=folder.name)


def build(out: Path, count: int, seed: int) -> dict:
    check_templates()
    rng = random.Random(seed)
    logs = low_order_logs()
    out.mkdir(parents=True, exist_ok=True)
    staging = out / ".staging"
    staging.mkdir(exist_ok=True)
    bundles = []
    corrupt_every = 97
    for i in range(count):
        host = f"host-{i:05d}"
        if i % corrupt_every == corrupt_every - 1:
            kind = CORRUPT_KINDS[(i // corrupt_every) % len(CORRUPT_KINDS)]
            bundles.append(make_corrupt(out, host, kind, rng))
            continue
        template = rng.choice(TEMPLATES)
        layout = rng.choices(("folder", "tar.gz", "sosreport"), weights=(60, 25, 15))[0]
        name = host if layout != "sosreport" else f"sosreport-{host}-2024-05-{1 + i % 28:02d}"
        folder = staging / name if layout == "tar.gz" else out / name
        link_tree(FIXTURES / template, folder)
        settings = dict(MAJORITY)
        settings["min_free_kbytes"] = str(rng.choice(MIN_FREE_VALUES))
        thp = {"enabled": "madvise", "defrag": "madvise"}
        deviants = {}
        for key, (chance, values) in DEVIATIONS.items():
            if rng.random() < chance:
                value = rng.choice(values)
                deviants[key] = value
                if key == "thp_enabled":
                    thp["enabled"] = value
                else:
                    settings[key] = value
        for key, value in settings.items():
            plant(folder / "proc/sys/vm" / key, value + "\n")
        for key, value in thp.items():
            plant(folder / "sys/kernel/mm/transparent_hugepage" / key, THP_TEXT[key][value])
        planted_logs = []
        roll = rng.random()
        n_logs = 2 if roll < 0.05 else 1 if roll < 0.35 else 0
        for k, log in enumerate(rng.sample(logs, n_logs)):
            where = ("var/log/messages" if layout == "sosreport" else "var/log/kern.log")
            where += "" if k == 0 else ".1"
            plant(folder / where,
                  (FIXTURES / "kernel-logs/reports" / log["file"]).read_bytes())
            planted_logs.append({**log, "at": where})
        if layout == "sosreport":
            plant(folder / "hostname", host + "\n")
        if layout == "tar.gz":
            target = out / f"{host}.tar.gz"
            make_tarball(folder, target)
            shutil.rmtree(folder)
            path = target
        else:
            path = folder
        by_order: dict[str, int] = {}
        for log in planted_logs:
            by_order[str(log["order"])] = by_order.get(str(log["order"]), 0) + log["failures"]
        bundles.append({
            "host": host, "path": str(path), "layout": layout, "template": template,
            "planted": {"settings": settings, "thp": thp, "deviants": deviants,
                        "logs": planted_logs},
            "expect": {"error": False, "verdict_failing": bool(planted_logs),
                       "failures_total": sum(by_order.values()), "failures_by_order": by_order,
                       "min_free_kbytes": int(settings["min_free_kbytes"])},
        })
    shutil.rmtree(staging, ignore_errors=True)
    manifest = {"generator": "tools/make_fleet.py", "seed": seed, "count": count,
                "bundles": bundles, "summary": expected_summary(bundles)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def make_corrupt(out: Path, host: str, kind: str, rng: random.Random) -> dict:
    if kind in ("truncated-tar", "not-a-tar"):
        path = out / f"{host}.tar.gz"
        if kind == "truncated-tar":
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
                tar.add(FIXTURES / "scenarios/healthy", arcname=host)
            data = buffer.getvalue()
            path.write_bytes(data[: len(data) // 3])
        else:
            path.write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    else:
        path = out / host
        path.mkdir(parents=True, exist_ok=True)
        if kind == "empty-proc":
            (path / "proc").mkdir(exist_ok=True)
    return {"host": host, "path": str(path), "layout": kind, "template": None,
            "planted": {"corrupt": kind},
            "expect": {"error": True, "verdict_failing": False, "failures_total": 0,
                       "failures_by_order": {}, "min_free_kbytes": None}}


def expected_summary(bundles: list[dict]) -> dict:
    readable = [b for b in bundles if not b["expect"]["error"]]
    by_order: dict[str, int] = {}
    for b in readable:
        for order, n in b["expect"]["failures_by_order"].items():
            by_order[order] = by_order.get(order, 0) + n
    deviants: dict[str, list[str]] = {}
    names = {"thp_enabled": "thp_enabled"}
    for b in readable:
        for key in b["planted"]["deviants"]:
            deviants.setdefault(names.get(key, f"vm.{key}"), []).append(b["host"])
    return {
        "hosts": len(bundles),
        "errors": len(bundles) - len(readable),
        "error_hosts": sorted(b["host"] for b in bundles if b["expect"]["error"]),
        "failing": sum(1 for b in readable if b["expect"]["verdict_failing"]),
        "failures_by_order": dict(sorted(by_order.items(), key=lambda kv: int(kv[0]))),
        "failures_total": sum(by_order.values()),
        "deviants": {k: sorted(v) for k, v in sorted(deviants.items())},
        "majority": {**{f"vm.{k}": v for k, v in MAJORITY.items()},
                     "thp_enabled": "madvise", "thp_defrag": "madvise"},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="folder to create the bundles in")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    manifest = build(Path(args.out), args.count, args.seed)
    s = manifest["summary"]
    print(f"{s['hosts']} bundles in {args.out}: {s['failing']} with planted failures, "
          f"{s['errors']} unreadable; manifest.json written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
