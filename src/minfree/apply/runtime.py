"""Runtime writes: ``/proc/sys/<key>`` under the root, read back, verified, re-read later.

On the live host the write goes straight to procfs (``write()`` of ``"<value>\\n"``; the
kernel's handler validates it and recomputes the watermarks synchronously before the call
returns, ``min_free_kbytes_sysctl_handler`` -> ``setup_per_zone_wmarks``). On a directory
root the "proc" files are regular files and are replaced atomically like any other file.

After writing:

- the value is read back (the kernel may clamp or reject: ``EINVAL`` becomes a clear error);
- on a live host, ``/proc/zoneinfo`` is compared with the kernel model's prediction for the
  zones as they are *now* (``managed`` can grow while deferred memory init runs);
- a moment later the value is read again: khugepaged raises ``min_free_kbytes`` when THP
  (re)starts, and tuned re-applies its profile; either is reported, never fought.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path

from minfree.apply.persist import same_value
from minfree.apply.safe_write import atomic_write, crash_point
from minfree.errors import MinfreeError, SourceError


class RuntimeWriteError(MinfreeError):
    """The kernel (or the root's file) refused a runtime value."""


@dataclass(frozen=True)
class WriteResult:
    """One key written: what was asked, what reads back."""

    key: str
    wanted: str
    read_back: str | None

    @property
    def ok(self) -> bool:
        return same_value(self.read_back, self.wanted)


@dataclass(frozen=True)
class ZoneCheck:
    """A zone whose watermarks (pages) differ from the prediction after the write."""

    node: int
    zone: str
    predicted: tuple[int, int, int]
    actual: tuple[int, int, int]


def proc_path(root: Path, key: str) -> Path:
    return root / "proc/sys" / key.replace(".", "/")


def read_value(root: Path, key: str) -> str | None:
    """The runtime value, whitespace-normalised (None when unreadable)."""
    try:
        return " ".join(proc_path(root, key).read_text().split())
    except OSError:
        return None


def write_value(root: Path, key: str, value: str, *, live: bool) -> WriteResult:
    """Write one value and read it back; raises :class:`RuntimeWriteError` when refused."""
    path = proc_path(root, key)
    data = f"{value}\n".encode()
    if live:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as error:
            raise RuntimeWriteError(f"cannot open {path}: {error.strerror}") from None
        try:
            os.write(fd, data)
        except OSError as error:
            why = "the kernel rejected the value" if error.errno == errno.EINVAL else error.strerror
            raise RuntimeWriteError(f"writing {value} to {path}: {why}") from None
        finally:
            os.close(fd)
        crash_point(f"runtime written {key}")
    else:
        try:
            atomic_write(path, data)
        except SourceError as error:
            raise RuntimeWriteError(str(error)) from None
    return WriteResult(key, value, read_value(root, key))


def check_zoneinfo(root: Path, values: dict[str, str], *, release: object, page_size_bytes: int,
                   sysctl: dict[str, str]) -> tuple[list[ZoneCheck], int]:
    """Compare ``<root>/proc/zoneinfo`` with the prediction; (mismatches, zones compared).

    The prediction uses the zones' ``managed`` counts and current boost from the same read
    of zoneinfo, so lazily initialised memory does not produce false alarms.
    """
    from minfree.kernel.watermarks import predict_host
    from minfree.parsers.zoneinfo import parse_zoneinfo

    try:
        zones = parse_zoneinfo((root / "proc/zoneinfo").read_text()).zones
    except (OSError, MinfreeError):
        return [], 0
    merged = dict(sysctl)
    merged.update(values)
    try:
        predicted = predict_host(zones, merged, release=release,  # type: ignore[arg-type]
                                 page_size_bytes=page_size_bytes, keep_boost=True)
    except ValueError:
        return [], 0
    actual = {(z.node, z.name): z for z in zones}
    mismatches = []
    compared = 0
    for p in predicted:
        zone = actual.get(p.key)
        if zone is None:
            continue
        compared += 1
        now = (zone.min_pages, zone.low_pages, zone.high_pages)
        want = (p.min_pages, p.low_pages, p.high_pages)
        if now != want:
            mismatches.append(ZoneCheck(p.node, p.zone, want, now))
    return mismatches, compared


def settle_check(root: Path, wanted: dict[str, str], seconds: float) -> dict[str, str | None]:
    """Keys whose value changed after ``seconds``: key -> the value found instead."""
    if seconds > 0:
        time.sleep(seconds)
    changed: dict[str, str | None] = {}
    for key, value in wanted.items():
        now = read_value(root, key)
        if not same_value(now, value):
            changed[key] = now
    return changed


def who_changes(root: Path, key: str, thp_enabled: str | None) -> str:
    """Plain words on what usually rewrites ``key`` behind our back, from the root's state."""
    suspects = []
    if key == "vm.min_free_kbytes" and thp_enabled in ("always", "madvise"):
        suspects.append(f"khugepaged (THP is {thp_enabled!r}: it raises min_free_kbytes to its "
                        "recommendation)")
    if (root / "etc/tuned/active_profile").exists() or (root / "run/tuned").exists():
        suspects.append("tuned (a profile is active and re-applies its sysctls)")
    if not suspects:
        suspects.append("another agent (configuration management, a container runtime, memory hotplug)")
    return "; ".join(suspects)
