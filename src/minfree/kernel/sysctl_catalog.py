"""The sysctl keys minfree reads, recommends or writes: type, unit, kernel range by era.

Why a catalog: ``minfree apply`` must refuse a value the kernel would reject *before* it
touches anything (a half-applied plan is worse than none), the doctor needs the kernel
defaults to say "below the kernel default", and every output needs units. The kernel's own
bounds live in the sysctl tables (``kernel/sysctl.c`` up to 5.x, then moved next to the
code: ``mm/page_alloc.c``, ``mm/vmscan.c``, ``mm/compaction.c``, ``mm/util.c``); each entry
below cites where its bound comes from.

Ranges change with the kernel. :func:`value_range` picks the range for a release, and when
the release is unknown it returns the *widest* range any era accepted, so minfree never
refuses a value that the running kernel might accept (the kernel's ``EINVAL`` on write
stays the final judge and is reported as such).

    >>> spec = lookup("vm.watermark_scale_factor")
    >>> spec.unit, spec.default
    ('1/10000 of zone memory', '10')
    >>> value_range(spec, (5, 4, 0)), value_range(spec, (5, 15, 0))
    ((1, 1000), (1, 3000))
    >>> validate("vm.swappiness", "150", (5, 4, 0))
    'vm.swappiness must be between 0 and 100 on kernel 5.4.0 (was 150)'
    >>> validate("vm.swappiness", "150", (6, 1, 0)) is None
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: INT_MAX: the upper bound of every ``proc_dointvec_minmax`` entry without ``extra2``.
INT_MAX = 2**31 - 1
#: ULONG_MAX on 64-bit: upper bound of ``proc_doulongvec_minmax`` entries.
ULONG_MAX = 2**64 - 1

_VM_DOC = "https://docs.kernel.org/admin-guide/sysctl/vm.html"
_NET_DOC = "https://docs.kernel.org/admin-guide/sysctl/net.html"


@dataclass(frozen=True)
class RangeEra:
    """The bounds the kernel enforces from release ``since`` on (until the next era).

    ``verified`` is False when the exact release of the change was not confirmed; the era
    boundary is then an estimate and minfree lets the kernel decide (see :func:`value_range`).
    """

    since: tuple[int, int, int]
    minimum: int
    maximum: int
    source: str
    verified: bool = True


@dataclass(frozen=True)
class SysctlSpec:
    """One sysctl key: what it holds and what the kernel accepts.

    ``kind`` is ``"int"`` (one integer), ``"int-vector"`` (whitespace-separated integers, one
    per zone, like ``lowmem_reserve_ratio``) or ``"write-only"`` (``drop_caches``: reading
    returns 0 and the value is an action, never persisted). ``default`` is the kernel's
    default as text, or None when the kernel computes it per host (``min_free_kbytes``).
    ``persistable`` is False for keys that must never go into a sysctl file.
    """

    key: str
    kind: str
    unit: str
    ranges: tuple[RangeEra, ...]
    default: str | None
    since: tuple[int, int, int]
    doc: str
    summary: str
    persistable: bool = True
    removed: tuple[int, int, int] | None = None

    @property
    def proc_path(self) -> str:
        """Path relative to a root: ``vm.min_free_kbytes`` -> ``proc/sys/vm/min_free_kbytes``."""
        return "proc/sys/" + self.key.replace(".", "/")


def _spec(
    key: str,
    kind: str,
    unit: str,
    ranges: Sequence[tuple[tuple[int, int, int], int, int, str] | RangeEra],
    default: str | None,
    since: tuple[int, int, int],
    summary: str,
    *,
    doc: str = _VM_DOC,
    persistable: bool = True,
    removed: tuple[int, int, int] | None = None,
) -> SysctlSpec:
    eras = tuple(r if isinstance(r, RangeEra) else RangeEra(*r) for r in ranges)
    anchor = key.rsplit(".", 1)[-1].replace("_", "-")
    return SysctlSpec(
        key=key,
        kind=kind,
        unit=unit,
        ranges=eras,
        default=default,
        since=since,
        doc=f"{doc}#{anchor}",
        summary=summary,
        persistable=persistable,
        removed=removed,
    )


_ANCIENT = (2, 6, 0)

CATALOG: dict[str, SysctlSpec] = {
    spec.key: spec
    for spec in (
        _spec(
            "vm.min_free_kbytes", "int", "kB",
            [(_ANCIENT, 0, INT_MAX, "mm/page_alloc.c min_free_kbytes_sysctl_handler: extra1 = SYSCTL_ZERO, no extra2")],
            None, _ANCIENT,
            "reserve the per-zone min/low/high watermarks are derived from; default 4*sqrt(lowmem kB) clamped to 128..65536 (262144 from 5.7)",
        ),
        _spec(
            "vm.watermark_scale_factor", "int", "1/10000 of zone memory",
            [
                ((4, 6, 0), 1, 1000, "kernel/sysctl.c 4.6-5.4: extra1 = &one, extra2 = &one_thousand"),
                RangeEra((5, 5, 0), 1, 3000,
                         "raised to 3000 somewhere between 5.5 and 5.15; exact release unverified", verified=False),
                ((5, 15, 0), 1, 3000, "mm/page_alloc.c: extra2 = SYSCTL_THREE_THOUSAND"),
            ],
            "10", (4, 6, 0),
            "distance between min, low and high watermarks as a fraction of the zone (kswapd wakes earlier when larger)",
        ),
        _spec(
            "vm.watermark_boost_factor", "int", "1/10000 of the high watermark",
            [((5, 0, 0), 0, INT_MAX, "mm/page_alloc.c: extra1 = SYSCTL_ZERO")],
            "15000", (5, 0, 0),
            "temporary watermark boost after a fragmentation event (0 disables boosting)",
        ),
        _spec(
            "vm.swappiness", "int", "relative cost, anon vs file",
            [
                (_ANCIENT, 0, 100, "kernel/sysctl.c: extra2 = &one_hundred"),
                ((5, 8, 0), 0, 200, "5.8 'mm: allow swappiness that prefers reclaiming anon over the file workingset': extra2 = &two_hundred"),
            ],
            "60", _ANCIENT,
            "how readily reclaim swaps anonymous memory instead of dropping page cache",
        ),
        _spec(
            "vm.vfs_cache_pressure", "int", "percent",
            [(_ANCIENT, 0, INT_MAX, "kernel/sysctl.c / fs/dcache.c: extra1 = SYSCTL_ZERO")],
            "100", _ANCIENT,
            "how hard reclaim shrinks dentry and inode caches relative to page cache",
        ),
        _spec(
            "vm.zone_reclaim_mode", "int", "bitmask (1 reclaim, 2 write dirty, 4 swap)",
            [(_ANCIENT, 0, INT_MAX, "mm/vmscan.c / kernel/sysctl.c: extra1 = SYSCTL_ZERO")],
            "0", _ANCIENT,
            "reclaim on the local NUMA node before allocating from another (0 = off, the advice for servers)",
        ),
        _spec(
            "vm.extfrag_threshold", "int", "fragmentation index x1000",
            [((2, 6, 35), 0, 1000, "mm/compaction.c: extra1 = SYSCTL_ZERO, extra2 = SYSCTL_ONE_THOUSAND")],
            "500", (2, 6, 35),
            "compaction is tried only when the fragmentation index is above this",
        ),
        _spec(
            "vm.lowmem_reserve_ratio", "int-vector", "1/N of higher zones (per zone)",
            [(_ANCIENT, 0, INT_MAX, "mm/page_alloc.c lowmem_reserve_ratio_sysctl_handler: values < 1 become 0")],
            "256 256 32 0 0", _ANCIENT,
            "protection of lower zones against allocations that could use higher zones",
        ),
        _spec(
            "vm.overcommit_memory", "int", "mode (0 heuristic, 1 always, 2 never)",
            [(_ANCIENT, 0, 2, "mm/util.c overcommit_policy_handler: extra1 = SYSCTL_ZERO, extra2 = SYSCTL_TWO")],
            "0", _ANCIENT,
            "virtual memory overcommit policy",
        ),
        _spec(
            "vm.overcommit_ratio", "int", "percent of RAM",
            [(_ANCIENT, 0, INT_MAX, "mm/util.c overcommit_ratio_handler (proc_dointvec, negative rejected by sense)")],
            "50", _ANCIENT,
            "commit limit share of RAM when overcommit_memory = 2",
        ),
        _spec(
            "vm.overcommit_kbytes", "int", "kB",
            [((3, 14, 0), 0, ULONG_MAX, "mm/util.c overcommit_kbytes_handler: proc_doulongvec_minmax")],
            "0", (3, 14, 0),
            "commit limit in kB when overcommit_memory = 2 (overrides overcommit_ratio when non-zero)",
        ),
        _spec(
            "vm.max_map_count", "int", "mappings per process",
            [(_ANCIENT, 0, INT_MAX, "mm/mmap.c / kernel/sysctl.c: extra1 = SYSCTL_ZERO")],
            "65530", _ANCIENT,
            "maximum number of memory map areas a process may have (Aerospike, Elasticsearch want >= 262144)",
        ),
        _spec(
            "vm.compaction_proactiveness", "int", "score 0..100",
            [((5, 9, 0), 0, 100, "mm/compaction.c: extra2 = SYSCTL_ONE_HUNDRED")],
            "20", (5, 9, 0),
            "background (kcompactd) proactive compaction effort",
        ),
        _spec(
            "vm.min_unmapped_ratio", "int", "percent of zone",
            [(_ANCIENT, 0, 100, "mm/page_alloc.c: extra2 = SYSCTL_ONE_HUNDRED")],
            "1", _ANCIENT,
            "zone reclaim only when more than this share of the zone is unmapped page cache",
        ),
        _spec(
            "vm.min_slab_ratio", "int", "percent of zone",
            [(_ANCIENT, 0, 100, "mm/page_alloc.c: extra2 = SYSCTL_ONE_HUNDRED")],
            "5", _ANCIENT,
            "zone reclaim shrinks slab when reclaimable slab exceeds this share of the zone",
        ),
        _spec(
            "vm.dirty_ratio", "int", "percent of available memory",
            [(_ANCIENT, 0, 100, "mm/page-writeback.c: extra2 = SYSCTL_ONE_HUNDRED")],
            "20", _ANCIENT,
            "writers block when dirty page cache exceeds this",
        ),
        _spec(
            "vm.dirty_background_ratio", "int", "percent of available memory",
            [(_ANCIENT, 0, 100, "mm/page-writeback.c: extra2 = SYSCTL_ONE_HUNDRED")],
            "10", _ANCIENT,
            "background writeback starts when dirty page cache exceeds this",
        ),
        _spec(
            "vm.extra_free_kbytes", "int", "kB",
            [(_ANCIENT, 0, INT_MAX, "RHEL6/Android backport only: adds to low and high watermarks")],
            "0", _ANCIENT,
            "RHEL6 and some Android kernels only: extra gap above min for kswapd",
        ),
        _spec(
            "vm.drop_caches", "write-only", "action (1 page cache, 2 slab, 3 both, 4 quiet)",
            [((2, 6, 16), 1, 4, "fs/drop_caches.c: extra1 = SYSCTL_ONE, extra2 = SYSCTL_FOUR")],
            None, (2, 6, 16),
            "one-shot: drop clean caches; never persisted",
            persistable=False,
        ),
        _spec(
            "net.core.somaxconn", "int", "connections",
            [
                (_ANCIENT, 0, 65535, "before 5.4 the value was truncated to 16 bits by sk_max_ack_backlog users"),
                ((5, 4, 0), 0, INT_MAX, "net/core/sysctl_net_core.c: extra1 = SYSCTL_ZERO"),
            ],
            "4096", _ANCIENT,
            "listen() backlog cap (128 before 5.4, 4096 from 5.4)",
            doc=_NET_DOC,
        ),
        _spec(
            "net.core.netdev_max_backlog", "int", "packets",
            [(_ANCIENT, 0, INT_MAX, "net/core/sysctl_net_core.c: proc_dointvec")],
            "1000", _ANCIENT,
            "per-CPU input queue length before packets are dropped",
            doc=_NET_DOC,
        ),
        _spec(
            "kernel.numa_balancing", "int", "mode",
            [((3, 8, 0), 0, 3, "kernel/sched/core.c: extra2 = SYSCTL_FOUR (bits 0,1) in 5.18+; 0..1 before")],
            None, (3, 8, 0),
            "automatic NUMA balancing",
            doc="https://docs.kernel.org/admin-guide/sysctl/kernel.html",
        ),
    )
}

#: Historical defaults that differ from :attr:`SysctlSpec.default` (the current one).
DEFAULT_BY_ERA: dict[str, tuple[tuple[tuple[int, int, int], str], ...]] = {
    "net.core.somaxconn": ((_ANCIENT, "128"), ((5, 4, 0), "4096")),
}


def normalize_key(key: str) -> str:
    """``vm/min_free_kbytes`` or ``vm.min_free_kbytes`` -> ``vm.min_free_kbytes``.

    sysctl accepts ``/`` as separator; when the first separator is ``/`` every ``/`` is a
    separator and dots are part of names (procps ``sysctl.c``), which only matters for
    interface names like ``eth0.100``.

    >>> normalize_key("vm/min_free_kbytes")
    'vm.min_free_kbytes'
    >>> normalize_key("net/ipv4/conf/eth0.100/rp_filter")
    'net.ipv4.conf.eth0/100.rp_filter'
    """
    key = key.strip()
    slash, dot = key.find("/"), key.find(".")
    if slash != -1 and (dot == -1 or slash < dot):
        # swap: dots become slashes (kept literal in the name), slashes become dots
        return key.translate(str.maketrans({"/": ".", ".": "/"}))
    return key


def lookup(key: str) -> SysctlSpec | None:
    """The catalog entry for ``key`` (dotted or slashed); a bare ``vm`` name is accepted."""
    key = normalize_key(key)
    if key in CATALOG:
        return CATALOG[key]
    if "." not in key and f"vm.{key}" in CATALOG:
        return CATALOG[f"vm.{key}"]
    return None


def _version(release: object) -> tuple[int, int, int] | None:
    if release is None:
        return None
    version = getattr(release, "version", release)
    if isinstance(version, tuple):
        return tuple(int(x) for x in (*version, 0, 0)[:3])  # type: ignore[return-value]
    return None


def range_era(spec: SysctlSpec, release: object = None) -> RangeEra | None:
    """The era whose bounds apply to ``release`` (a KernelRelease or version tuple)."""
    version = _version(release)
    if version is None:
        return None
    chosen = None
    for era in spec.ranges:
        if version >= era.since:
            chosen = era
    return chosen


def value_range(spec: SysctlSpec, release: object = None) -> tuple[int, int]:
    """(min, max) the kernel accepts for one integer of ``spec`` on ``release``.

    Unknown release, a release older than the key's first era, or an era whose boundary is
    unverified: the widest bounds of all eras from that point on, so a value a kernel might
    accept is never refused by us.
    """
    era = range_era(spec, release)
    if era is None:
        return (min(e.minimum for e in spec.ranges), max(e.maximum for e in spec.ranges))
    if not era.verified:
        later = [e for e in spec.ranges if e.since >= era.since]
        return (min(e.minimum for e in later), max(e.maximum for e in later))
    return (era.minimum, era.maximum)


def default_for(spec: SysctlSpec, release: object = None) -> str | None:
    """The kernel default for ``release`` (None: computed per host, or unknown)."""
    version = _version(release)
    eras = DEFAULT_BY_ERA.get(spec.key)
    if eras and version is not None:
        chosen = spec.default
        for since, value in eras:
            if version >= since:
                chosen = value
        return chosen
    return spec.default


def parse_int_value(spec: SysctlSpec, text: str) -> tuple[int, ...]:
    """The integers of a value (one for ``int``, several for ``int-vector``).

    Raises ValueError with a plain reason for non-numeric text or a wrong count.
    """
    parts = text.split()
    if not parts:
        raise ValueError("empty value")
    if spec.kind != "int-vector" and len(parts) != 1:
        raise ValueError(f"expected one integer, got {len(parts)} words")
    numbers = []
    for part in parts:
        try:
            numbers.append(int(part, 10))
        except ValueError:
            raise ValueError(f"not an integer: {part!r}") from None
    return tuple(numbers)


def validate(key: str, text: str, release: object = None) -> str | None:
    """Why ``text`` is not a value the kernel accepts for ``key`` on ``release``; None if fine.

    Keys outside the catalog are not judged here (the caller decides whether unknown keys are
    allowed at all).
    """
    spec = lookup(key)
    if spec is None:
        return None
    try:
        numbers = parse_int_value(spec, text)
    except ValueError as error:
        return f"{spec.key}: {error}"
    low, high = value_range(spec, release)
    version = _version(release)
    where = f" on kernel {'.'.join(map(str, version))}" if version else ""
    for number in numbers:
        if not low <= number <= high:
            return f"{spec.key} must be between {low} and {high}{where} (was {number})"
    if version is not None and version < spec.since:
        return f"{spec.key} does not exist before kernel {'.'.join(map(str, spec.since))}"
    return None
