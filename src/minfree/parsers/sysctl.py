"""Runtime sysctl values: ``sysctl -a`` output and single ``/proc/sys`` files.

Values are normalised the same way for both sources so they compare equal: runs of blanks
(the kernel separates vector values with tabs, ``256\\t256\\t32\\t0\\t0``) become one space
and the ends are stripped. A key printed on several lines (``dev.cdrom.info``) keeps all of
them joined with newlines. ``sysctl:`` diagnostics in a captured output (``permission denied
on key 'fs.protected_fifos'``) are kept in ``errors`` rather than treated as values.

This module reads *runtime* values. Configuration files (``/etc/sysctl.conf``,
``sysctl.d``) are another format with their own parser (``minfree.parsers.sysctl_conf``).

>>> s = parse_sysctl_a("vm.min_free_kbytes = 67584\\nvm.lowmem_reserve_ratio = 256\\t256\\t32\\n")
>>> s.values["vm.lowmem_reserve_ratio"], s.values["vm.min_free_kbytes"]
('256 256 32', '67584')
>>> sysctl_key_from_path("proc/sys/net/ipv4/conf/eth0.100/rp_filter")
'net.ipv4.conf.eth0/100.rp_filter'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from minfree.errors import ParseError
from minfree.parsers._text import require_text

_LINE = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_./:@+\-]*)\s*=\s?(.*)", re.ASCII)
_BLANKS = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class SysctlOutput:
    """Parsed ``sysctl -a``: dotted key -> normalised value, plus ``sysctl:`` messages."""

    values: Mapping[str, str]
    errors: tuple[str, ...] = ()
    denied_keys: tuple[str, ...] = field(default=())


def normalise_sysctl_value(raw: str) -> str:
    """One line per value line, blanks collapsed to single spaces, ends stripped."""
    lines = [_BLANKS.sub(" ", line).strip() for line in raw.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def sysctl_key_from_path(rel: str) -> str:
    """``proc/sys/vm/min_free_kbytes`` -> ``vm.min_free_kbytes``.

    A dot inside a path component (an interface ``eth0.100``) becomes ``/`` as ``sysctl``
    prints it, so the key round-trips.
    """
    text = rel.strip("/")
    if text.startswith("proc/sys/"):
        text = text[len("proc/sys/") :]
    return ".".join(part.replace(".", "/") for part in text.split("/") if part)


_DENIED = re.compile(r"sysctl: permission denied on key '([^']+)'", re.ASCII)


def parse_sysctl_a(text: str, source: str = "sysctl -a") -> SysctlOutput:
    """Parse ``sysctl -a`` (procps or busybox) output."""
    require_text(text, source=source)
    values: dict[str, str] = {}
    errors: list[str] = []
    denied: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        stripped = raw.strip()
        if stripped.startswith("sysctl:"):
            errors.append(stripped)
            if m := _DENIED.fullmatch(stripped):
                denied.append(m.group(1))
            continue
        match = _LINE.fullmatch(raw.rstrip("\r\n"))
        if not match:
            raise ParseError(
                f"expected 'key = value', got {stripped[:60]!r}", source=source, line=lineno
            )
        key, value = match.group(1), normalise_sysctl_value(match.group(2))
        if key in values:
            values[key] = f"{values[key]}\n{value}"
        else:
            values[key] = value
    return SysctlOutput(values=values, errors=tuple(errors), denied_keys=tuple(denied))
