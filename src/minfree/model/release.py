"""Kernel release strings (``uname -r``) parsed into comparable versions.

Version checks are a fallback: where the data shows a feature (a ``promo`` line in zoneinfo,
decoded GFP names in a report) minfree detects the feature instead, because distributions
backport (RHEL7's 3.10.0-1160 has the 5.7+ 262144 kB cap on ``min_free_kbytes``).

    >>> r = KernelRelease.parse("3.10.0-1160.el7.x86_64")
    >>> (r.version, r.rhel)
    ((3, 10, 0), 7)
    >>> KernelRelease.parse("6.18.44-fc-v595") >= (6, 3)
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RELEASE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?(\S*)")
_RHEL = re.compile(r"\.el(\d+)")


@dataclass(frozen=True, order=False)
class KernelRelease:
    """A parsed release: numeric ``version`` plus the raw text and distro hints."""

    text: str
    version: tuple[int, int, int]

    @classmethod
    def parse(cls, text: str) -> KernelRelease:
        match = _RELEASE.match(text)
        if not match:
            raise ValueError(f"not a kernel release: {text!r}")
        major, minor, patch = match.group(1), match.group(2), match.group(3) or "0"
        return cls(text=text.strip(), version=(int(major), int(minor), int(patch)))

    @classmethod
    def try_parse(cls, text: str | None) -> KernelRelease | None:
        """Parse, or None for missing/unparseable text (logs often lack a release)."""
        if not text:
            return None
        try:
            return cls.parse(text)
        except ValueError:
            return None

    @property
    def rhel(self) -> int | None:
        """RHEL/CentOS major release from an ``.elN`` tag, if any."""
        match = _RHEL.search(self.text)
        return int(match.group(1)) if match else None

    def _key(self, other: object) -> tuple[int, ...]:
        if isinstance(other, KernelRelease):
            return other.version
        if isinstance(other, tuple):
            return tuple(other) + (0,) * (3 - len(other))
        return NotImplemented  # type: ignore[return-value]

    def __ge__(self, other: object) -> bool:
        return self.version >= self._key(other)

    def __gt__(self, other: object) -> bool:
        return self.version > self._key(other)

    def __le__(self, other: object) -> bool:
        return self.version <= self._key(other)

    def __lt__(self, other: object) -> bool:
        return self.version < self._key(other)

    def __str__(self) -> str:
        return self.text
