"""``/proc/meminfo`` (and a node's ``sys/devices/system/node/nodeN/meminfo``), in kB.

Fields differ by era and configuration (``MemAvailable`` since 3.14, ``KReclaimable`` 4.20,
``Unaccepted`` 6.5 ...), so :class:`MemInfo` keeps every line in ``fields_kb`` (values with
a ``kB`` unit) or ``counts`` (unitless values such as ``HugePages_Total``) and offers named
properties that return None when the kernel does not print the field.

The ``free -m`` summary follows procps-ng: ``buff/cache`` = Buffers + Cached + SReclaimable
(3.3.10+); ``used`` = MemTotal - MemAvailable (4.0.1+, checked against ``free`` 4.0.2 on the
reference host), or MemTotal - MemFree - buff/cache where MemAvailable is absent (and in
procps-ng 3.3.10 to 4.0.0, see :attr:`MemInfo.used_kb_procps3`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MemInfo:
    """Parsed meminfo. ``node`` is set for a per-node file (``Node 0 MemTotal: ...``).

    ``legacy_header`` keeps the 2.4-style ``total: used: free: ...`` table some old or odd
    kernels print first (in bytes); minfree does not use it.

    >>> from minfree.parsers.meminfo import parse_meminfo
    >>> m = parse_meminfo("MemTotal: 1000 kB\\nMemFree: 100 kB\\nBuffers: 50 kB\\n"
    ...                   "Cached: 300 kB\\nSReclaimable: 50 kB\\nHugePages_Total: 0\\n")
    >>> m.total_kb, m.buff_cache_kb, m.used_kb, m.available_kb, m.counts["HugePages_Total"]
    (1000, 400, 500, None, 0)
    >>> parse_meminfo("MemTotal: 1000 kB\\nMemFree: 100 kB\\nMemAvailable: 700 kB\\n").used_kb
    300
    """

    fields_kb: Mapping[str, int]
    counts: Mapping[str, int] = field(default_factory=dict)
    node: int | None = None
    legacy_header: tuple[str, ...] = ()

    def get_kb(self, name: str) -> int | None:
        """A kB field by its kernel name (``"Shmem"``), or None when absent."""
        return self.fields_kb.get(name)

    @property
    def total_kb(self) -> int | None:
        return self.fields_kb.get("MemTotal")

    @property
    def free_kb(self) -> int | None:
        return self.fields_kb.get("MemFree")

    @property
    def available_kb(self) -> int | None:
        """``MemAvailable`` (3.14+); None on older kernels: callers must not invent it."""
        return self.fields_kb.get("MemAvailable")

    @property
    def buffers_kb(self) -> int | None:
        return self.fields_kb.get("Buffers")

    @property
    def cached_kb(self) -> int | None:
        return self.fields_kb.get("Cached")

    @property
    def sreclaimable_kb(self) -> int | None:
        return self.fields_kb.get("SReclaimable")

    @property
    def shmem_kb(self) -> int | None:
        return self.fields_kb.get("Shmem")

    @property
    def swap_total_kb(self) -> int | None:
        return self.fields_kb.get("SwapTotal")

    @property
    def swap_free_kb(self) -> int | None:
        return self.fields_kb.get("SwapFree")

    @property
    def buff_cache_kb(self) -> int | None:
        """Buffers + Cached + SReclaimable, as ``free`` prints it (missing parts count 0)."""
        if self.buffers_kb is None and self.cached_kb is None:
            return None
        return (self.buffers_kb or 0) + (self.cached_kb or 0) + (self.sreclaimable_kb or 0)

    @property
    def used_kb(self) -> int | None:
        """``used`` as procps-ng 4.0.1+ ``free`` prints it: MemTotal - MemAvailable.

        Without MemAvailable (kernels before 3.14) free falls back to the older rule,
        :attr:`used_kb_procps3`.
        """
        if self.total_kb is not None and self.available_kb is not None:
            return max(0, self.total_kb - self.available_kb)
        return self.used_kb_procps3

    @property
    def used_kb_procps3(self) -> int | None:
        """``used`` as procps-ng 3.3.10-4.0.0 printed it: MemTotal - MemFree - buff/cache
        (MemTotal - MemFree when that would be negative)."""
        if self.total_kb is None or self.free_kb is None:
            return None
        used = self.total_kb - self.free_kb - (self.buff_cache_kb or 0)
        return used if used >= 0 else self.total_kb - self.free_kb

    @property
    def hugepage_size_kb(self) -> int | None:
        return self.fields_kb.get("Hugepagesize")

    @property
    def hugepages_total(self) -> int | None:
        return self.counts.get("HugePages_Total")
