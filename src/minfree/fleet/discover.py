"""Which paths on the command line are host bundles.

A path is a bundle when it is a tarball (``.tar``, ``.tar.gz``/``.tgz``, ``.tar.xz``...) or
a directory that looks like a captured root (it holds ``proc``, ``sys``, ``etc``,
``sos_commands`` or ``var``, like a sosreport or a folder with ``/proc`` captures and
``var/log``). Any other directory is a folder *of* bundles: each sub-directory and each
tarball in it is one host (hidden entries and loose files such as a manifest are skipped).

A path that does not exist or a file that is not a tarball becomes a :class:`Bundle` with an
``error``, so that the run still reports it as one row instead of stopping.

    >>> import tempfile, pathlib
    >>> top = pathlib.Path(tempfile.mkdtemp())
    >>> (top / "web1" / "proc").mkdir(parents=True)
    >>> _ = (top / "db2.tar.gz").write_bytes(b"")
    >>> _ = (top / "notes.txt").write_text("x")
    >>> [(b.name, b.error) for b in discover_bundles([str(top)])]
    [('db2', None), ('web1', None)]
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

#: Entries that make a directory a captured root rather than a folder of bundles (the same
#: markers :func:`minfree.sources.root.open_root` uses to recognise a root).
ROOT_MARKERS: tuple[str, ...] = ("proc", "sys", "etc", "sos_commands", "var")


@dataclass(frozen=True)
class Bundle:
    """One host's bundle: its path, a default host name, or why it cannot be used."""

    path: str
    #: the file or folder name without tar suffixes; the host name when the bundle has none
    name: str
    error: str | None = None


def bundle_name(path: str) -> str:
    """Host name guessed from a bundle's file name (``web1.tar.gz`` -> ``web1``).

    >>> bundle_name("/x/sosreport-db7-2024-01-02-abcd.tar.xz")
    'sosreport-db7-2024-01-02-abcd'
    """
    from minfree.sources.root import is_bundle_path

    base = os.path.basename(os.path.normpath(path))
    if is_bundle_path(base):
        for suffix in (".tar.gz", ".tar.xz", ".tar.bz2", ".tar.zst", ".tgz", ".txz", ".tbz2",
                       ".tar"):
            if base.lower().endswith(suffix):
                return base[: -len(suffix)]
    return base


def looks_like_root(path: str) -> bool:
    """A directory holding root markers (``proc``, ``etc``, ``sos_commands``...)."""
    try:
        names = [n for n in os.listdir(path) if not n.startswith(".")]
    except OSError:
        return False
    return any(n in ROOT_MARKERS for n in names)


def discover_bundles(paths: Iterable[str]) -> list[Bundle]:
    """Bundles for command-line paths, in order (a folder's entries sorted by name)."""
    from minfree.sources.root import is_bundle_path

    found: list[Bundle] = []
    seen: set[str] = set()

    def add(bundle: Bundle) -> None:
        key = os.path.realpath(bundle.path)
        if key not in seen:
            seen.add(key)
            found.append(bundle)

    for path in paths:
        name = bundle_name(path)
        if not os.path.exists(path):
            add(Bundle(path, name, "no such file or directory"))
        elif os.path.isfile(path):
            if is_bundle_path(path):
                add(Bundle(path, name))
            else:
                add(Bundle(path, name, "not a bundle: expected a directory or a "
                                       ".tar/.tar.gz/.tgz/.tar.xz file"))
        elif not os.access(path, os.R_OK | os.X_OK):
            add(Bundle(path, name, "permission denied"))
        elif looks_like_root(path):
            add(Bundle(path, name))
        else:
            # A folder of bundles (possibly of one: an unpacked ``x/sosreport-host/`` too).
            try:
                entries = sorted(os.listdir(path))
            except OSError as error:
                add(Bundle(path, name, error.strerror or str(error)))
                continue
            for entry in entries:
                if entry.startswith("."):
                    continue
                child = os.path.join(path, entry)
                if os.path.isdir(child) or (os.path.isfile(child) and is_bundle_path(child)):
                    add(Bundle(child, bundle_name(child)))
    return found
