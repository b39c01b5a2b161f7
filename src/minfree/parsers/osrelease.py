"""Kernel release text from the files that carry it.

- ``proc/sys/kernel/osrelease``: the release alone (``5.4.0-99-generic``);
- ``uname -a`` (sosreport ``sos_commands/kernel/uname_-a``): ``Linux HOST RELEASE #...``;
- ``/proc/version``: ``Linux version RELEASE (builder) ...``;
- Ubuntu's ``/proc/version_signature``: ``Ubuntu 5.4.0-170.188-generic 5.4.257`` (the
  package version; its first three numbers are the release's).

Each returns the release string or raises ParseError; :class:`KernelRelease` parses it.

>>> release_from_uname_a("Linux juju 5.4.0-99-generic #112-Ubuntu SMP x86_64 GNU/Linux")
'5.4.0-99-generic'
>>> release_from_proc_version("Linux version 3.10.0-1062.el7.x86_64 (mockbuild@x) (gcc)")
'3.10.0-1062.el7.x86_64'
"""

from __future__ import annotations

import re

from minfree.errors import ParseError
from minfree.parsers._text import require_text

_RELEASE = re.compile(r"[0-9]+\.[0-9]+\S*", re.ASCII)


def _check(release: str, source: str) -> str:
    if not _RELEASE.fullmatch(release):
        raise ParseError(f"not a kernel release: {release[:60]!r}", source=source, line=1)
    return release


def release_from_osrelease(text: str, source: str = "proc/sys/kernel/osrelease") -> str:
    """The content of ``kernel.osrelease``, stripped."""
    require_text(text, source=source)
    return _check(text.strip().splitlines()[0].strip(), source)


def release_from_uname_a(text: str, source: str = "uname -a") -> str:
    """Third word of ``uname -a`` (``Linux HOST RELEASE ...``)."""
    require_text(text, source=source)
    words = text.strip().splitlines()[0].split()
    if len(words) < 3 or words[0] != "Linux":
        raise ParseError("expected 'Linux HOST RELEASE ...'", source=source, line=1)
    return _check(words[2], source)


def release_from_proc_version(text: str, source: str = "/proc/version") -> str:
    """Third word of ``/proc/version`` (``Linux version RELEASE ...``)."""
    require_text(text, source=source)
    words = text.strip().splitlines()[0].split()
    if len(words) < 3 or words[:2] != ["Linux", "version"]:
        raise ParseError("expected 'Linux version RELEASE ...'", source=source, line=1)
    return _check(words[2], source)


def release_from_version_signature(text: str, source: str = "/proc/version_signature") -> str:
    """Second word of Ubuntu's ``version_signature`` (a package version, not ``uname -r``)."""
    require_text(text, source=source)
    words = text.strip().splitlines()[0].split()
    if len(words) < 2:
        raise ParseError("expected 'DISTRO PACKAGE-VERSION UPSTREAM'", source=source, line=1)
    return _check(words[1], source)
