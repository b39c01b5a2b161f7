"""GFP bit layouts and ``%pGg`` name tables of every kernel era, as plain data.

The page allocator's GFP mask changed its bit layout six times between 2.6.32 and 6.x, and
the table the kernel walks to print a mask as names (``__def_gfpflag_names`` in
``include/trace/events/mmflags.h``, used by ``%pGg`` from 4.5) changed order and content
more often still. :mod:`minfree.kernel.gfp` decodes with these tables; this module holds only
data and the few lines that compute composite masks from their kernel definitions.

Each :class:`GfpEra` gives:

- ``flags``: every single ``__GFP_*`` bit of that era (name, value), lowest bit first;
- ``table``: the ``%pGg`` table in the kernel's own order, composites first (name, value);
- the release range it covers and the sources it was read from.

Eras before 4.5 never printed names (only ``mode:0x%x``); their ``table`` is minfree's
rendering in the same style (composites first, ``__GFP_`` names), so old masks read the same
way as new ones. Zero-valued composites (``GFP_NOWAIT`` is 0 before 4.4) are left out of the
table: the kernel's ``format_flags()`` would print a zero mask's name for any input.

Sources (kernel trees as listed in kernel-facts §0, plus the patches named below):

- 2.6.32.9, RHEL6 2.6.32-642, 3.10.4, RHEL7 3.10.0-1160: ``include/linux/gfp.h``;
- 4.9 / 4.10-4.12 ``include/trace/events/mmflags.h`` (``__GFP_OTHER_NODE`` last in 4.9,
  gone in 4.10, "mm: get rid of __GFP_OTHER_NODE");
- 4.13 ``__GFP_REPEAT`` -> ``__GFP_RETRY_MAYFAIL``; 4.14 ``GFP_TEMPORARY`` removed;
- 4.15 ``__GFP_COLD`` and kmemcheck's ``__GFP_NOTRACK`` removed, other bits unchanged
  (a 4.15.0-rc1 log prints ``0x1080020(GFP_ATOMIC)``);
- 4.18 "mm: save two stranding bit in gfp_mask" (Shakeel Butt, May 2018): ``__GFP_WRITE``
  -> 0x100, ``__GFP_DIRECT_RECLAIM`` -> 0x200000, ``__GFP_KSWAPD_RECLAIM`` -> 0x400000;
- 5.1 "mm: shuffle GFP_* flags" (Alexey Dobriyan, posted 2019-01-09): ``GFP_KERNEL`` 0xcc0;
- 5.14 ``__GFP_ZEROTAGS`` 0x800000 and ``__GFP_SKIP_KASAN_POISON`` 0x1000000, which
  ``GFP_HIGHUSER_MOVABLE`` includes (0x1100cca; 5.15.135 read);
- 5.18 KASAN bits only with ``CONFIG_KASAN_HW_TAGS`` (0 otherwise), ``GFP_HIGHUSER_MOVABLE``
  back to 0x100cca (6.1.20 read);
- 6.3 "mm: discard __GFP_ATOMIC" (Mel Gorman): ``GFP_ATOMIC`` 0x820 (6.6.9 read);
- 6.12 commit 16f5dfbc851b "gfp: include __GFP_NOWARN in GFP_NOWAIT": 0x2800;
- 6.15 "tracing: gfp: Remove duplication of recording GFP flags" (Steven Rostedt, resent
  2025-02-25): single flags are printed in bit order after ``__GFP_RECLAIM`` (6.19 read).

Config-dependent high bits (``__GFP_NOLOCKDEP`` with LOCKDEP, the KASAN_HW_TAGS bits,
``__GFP_NO_OBJ_EXT``) are listed at their values for the usual distribution config (no
LOCKDEP, no KASAN_HW_TAGS, SLAB_OBJ_EXT on from 6.10 because MEMCG selects it).
"""

from __future__ import annotations

from dataclasses import dataclass

Version = tuple[int, int, int]


@dataclass(frozen=True)
class GfpEra:
    """One GFP layout and print table, valid for releases ``first <= v < until``.

    ``rhel`` marks a vendor tree chosen by the ``.elN`` tag instead of the version.
    ``prints_names`` is False for kernels that print only the hex (before 4.5).
    """

    key: str
    label: str
    family: str
    first: Version | None
    until: Version | None
    rhel: int | None
    prints_names: bool
    flags: tuple[tuple[str, int], ...]
    table: tuple[tuple[str, int], ...]
    sources: str
    #: composites that exist with the value 0 (GFP_NOWAIT before 4.4): never printed
    zero_composites: tuple[str, ...] = ()

    def flag(self, name: str) -> int:
        """The bit of ``__GFP_<name>`` in this era, 0 when the era has no such flag."""
        wanted = name if name.startswith("__GFP_") else f"__GFP_{name}"
        for flag_name, value in self.flags:
            if flag_name == wanted:
                return value
        return 0

    def composite(self, name: str) -> int | None:
        """The value of a ``GFP_*`` composite in this era, None if the era has no such mask.

        ``GFP_NOWAIT`` is 0 before 4.4 (``GFP_ATOMIC & ~__GFP_HIGH``): it exists but is
        never printed, so it is not in ``table``.
        """
        for entry_name, value in self.table:
            if entry_name == name:
                return value
        return 0 if name in self.zero_composites else None

    @property
    def known_bits(self) -> int:
        """OR of every single flag: bits outside it print as hex."""
        total = 0
        for _name, value in self.flags:
            total |= value
        return total


# --------------------------------------------------------------------------------------
# Single-flag layouts (bit values), kernel-facts §4.1 with the corrections noted above.

_LOW = (("__GFP_DMA", 0x1), ("__GFP_HIGHMEM", 0x2), ("__GFP_DMA32", 0x4), ("__GFP_MOVABLE", 0x8))

_A = (
    *_LOW,  # 2.6.32 upstream
    ("__GFP_WAIT", 0x10),
    ("__GFP_HIGH", 0x20),
    ("__GFP_IO", 0x40),
    ("__GFP_FS", 0x80),
    ("__GFP_COLD", 0x100),
    ("__GFP_NOWARN", 0x200),
    ("__GFP_REPEAT", 0x400),
    ("__GFP_NOFAIL", 0x800),
    ("__GFP_NORETRY", 0x1000),
    ("__GFP_COMP", 0x4000),
    ("__GFP_ZERO", 0x8000),
    ("__GFP_NOMEMALLOC", 0x10000),
    ("__GFP_HARDWALL", 0x20000),
    ("__GFP_THISNODE", 0x40000),
    ("__GFP_RECLAIMABLE", 0x80000),
    ("__GFP_NOTRACK", 0x200000),  # CONFIG_KMEMCHECK only, else 0
)
_A_RHEL6 = (*_A, ("__GFP_NO_KSWAPD", 0x400000), ("__GFP_OTHER_NODE", 0x800000))
_B = (
    *_A,
    ("__GFP_MEMALLOC", 0x2000),
    ("__GFP_KMEMCG", 0x100000),
    ("__GFP_NO_KSWAPD", 0x400000),
    ("__GFP_OTHER_NODE", 0x800000),
    ("__GFP_WRITE", 0x1000000),
)
_B_RHEL7 = tuple((("__GFP_ACCOUNT", v) if n == "__GFP_KMEMCG" else (n, v)) for n, v in _B)

_C = (
    *_LOW,  # 4.4-4.9
    ("__GFP_RECLAIMABLE", 0x10),
    ("__GFP_HIGH", 0x20),
    ("__GFP_IO", 0x40),
    ("__GFP_FS", 0x80),
    ("__GFP_COLD", 0x100),
    ("__GFP_NOWARN", 0x200),
    ("__GFP_REPEAT", 0x400),
    ("__GFP_NOFAIL", 0x800),
    ("__GFP_NORETRY", 0x1000),
    ("__GFP_MEMALLOC", 0x2000),
    ("__GFP_COMP", 0x4000),
    ("__GFP_ZERO", 0x8000),
    ("__GFP_NOMEMALLOC", 0x10000),
    ("__GFP_HARDWALL", 0x20000),
    ("__GFP_THISNODE", 0x40000),
    ("__GFP_ATOMIC", 0x80000),
    ("__GFP_ACCOUNT", 0x100000),  # 4.4 calls it __GFP_NOACCOUNT (inverse meaning)
    ("__GFP_NOTRACK", 0x200000),
    ("__GFP_DIRECT_RECLAIM", 0x400000),
    ("__GFP_OTHER_NODE", 0x800000),
    ("__GFP_WRITE", 0x1000000),
    ("__GFP_KSWAPD_RECLAIM", 0x2000000),
)
_D = (  # 4.10-4.14: __GFP_OTHER_NODE gone, WRITE and KSWAPD_RECLAIM slide down
    *(
        (n, {"__GFP_WRITE": 0x800000, "__GFP_KSWAPD_RECLAIM": 0x1000000}.get(n, v))
        for n, v in _C
        if n != "__GFP_OTHER_NODE"
    ),
    ("__GFP_NOLOCKDEP", 0x2000000),  # 4.12+, LOCKDEP only
)


def _renamed(flags: tuple[tuple[str, int], ...], old: str, new: str) -> tuple[tuple[str, int], ...]:
    return tuple(((new if n == old else n), v) for n, v in flags)


_D13 = _renamed(_D, "__GFP_REPEAT", "__GFP_RETRY_MAYFAIL")
_D15 = tuple((n, v) for n, v in _D13 if n not in ("__GFP_COLD", "__GFP_NOTRACK"))
_E = (
    *_LOW,  # 4.18-5.0
    ("__GFP_RECLAIMABLE", 0x10),
    ("__GFP_HIGH", 0x20),
    ("__GFP_IO", 0x40),
    ("__GFP_FS", 0x80),
    ("__GFP_WRITE", 0x100),
    ("__GFP_NOWARN", 0x200),
    ("__GFP_RETRY_MAYFAIL", 0x400),
    ("__GFP_NOFAIL", 0x800),
    ("__GFP_NORETRY", 0x1000),
    ("__GFP_MEMALLOC", 0x2000),
    ("__GFP_COMP", 0x4000),
    ("__GFP_ZERO", 0x8000),
    ("__GFP_NOMEMALLOC", 0x10000),
    ("__GFP_HARDWALL", 0x20000),
    ("__GFP_THISNODE", 0x40000),
    ("__GFP_ATOMIC", 0x80000),
    ("__GFP_ACCOUNT", 0x100000),
    ("__GFP_DIRECT_RECLAIM", 0x200000),
    ("__GFP_KSWAPD_RECLAIM", 0x400000),
    ("__GFP_NOLOCKDEP", 0x800000),
)
_F_BASE = (
    *_LOW,  # 5.1+ ("mm: shuffle GFP_* flags")
    ("__GFP_RECLAIMABLE", 0x10),
    ("__GFP_HIGH", 0x20),
    ("__GFP_IO", 0x40),
    ("__GFP_FS", 0x80),
    ("__GFP_ZERO", 0x100),
    ("__GFP_ATOMIC", 0x200),
    ("__GFP_DIRECT_RECLAIM", 0x400),
    ("__GFP_KSWAPD_RECLAIM", 0x800),
    ("__GFP_WRITE", 0x1000),
    ("__GFP_NOWARN", 0x2000),
    ("__GFP_RETRY_MAYFAIL", 0x4000),
    ("__GFP_NOFAIL", 0x8000),
    ("__GFP_NORETRY", 0x10000),
    ("__GFP_MEMALLOC", 0x20000),
    ("__GFP_COMP", 0x40000),
    ("__GFP_NOMEMALLOC", 0x80000),
    ("__GFP_HARDWALL", 0x100000),
    ("__GFP_THISNODE", 0x200000),
    ("__GFP_ACCOUNT", 0x400000),
)
_F1 = (
    *_F_BASE,
    ("__GFP_NOLOCKDEP", 0x800000),
)
_F14 = (
    *_F_BASE,
    ("__GFP_ZEROTAGS", 0x800000),
    ("__GFP_SKIP_KASAN_POISON", 0x1000000),
    ("__GFP_NOLOCKDEP", 0x2000000),
)
_F18 = (*_F_BASE, ("__GFP_ZEROTAGS", 0x800000), ("__GFP_NOLOCKDEP", 0x8000000))
_G_BASE = (*((n, v) for n, v in _F_BASE if n != "__GFP_ATOMIC"), ("__GFP_ZEROTAGS", 0x800000))
_G3 = (
    *_G_BASE,
    ("__GFP_NOLOCKDEP", 0x4000000),
)
_G12 = (
    *_G_BASE,
    ("__GFP_NO_OBJ_EXT", 0x1000000),
)


# --------------------------------------------------------------------------------------
# Composite masks, computed from their kernel definitions so that a change in a bit moves
# every composite that uses it.


def _bits(flags: tuple[tuple[str, int], ...], *names: str) -> int:
    values = dict(flags)
    total = 0
    for name in names:
        total |= values.get(f"__GFP_{name}", 0)
    return total


def _old_composites(
    flags: tuple[tuple[str, int], ...], *, transhuge: bool, kernel_account: bool
) -> list[tuple[str, int]]:
    """2.6.32-4.3: __GFP_WAIT means "may sleep"; GFP_ATOMIC is just __GFP_HIGH."""
    kernel = _bits(flags, "WAIT", "IO", "FS")
    user = kernel | _bits(flags, "HARDWALL")
    highuser = user | _bits(flags, "HIGHMEM")
    movable = highuser | _bits(flags, "MOVABLE")
    out: list[tuple[str, int]] = []
    if transhuge:
        out.append(
            (
                "GFP_TRANSHUGE",
                movable | _bits(flags, "COMP", "NOMEMALLOC", "NORETRY", "NOWARN", "NO_KSWAPD"),
            )
        )
    out += [
        ("GFP_HIGHUSER_MOVABLE", movable),
        ("GFP_HIGHUSER", highuser),
        ("GFP_USER", user),
        ("GFP_TEMPORARY", kernel | _bits(flags, "RECLAIMABLE")),
    ]
    if kernel_account:
        out.append(("GFP_KERNEL_ACCOUNT", kernel | _bits(flags, "ACCOUNT")))
    out += [
        ("GFP_KERNEL", kernel),
        ("GFP_NOFS", _bits(flags, "WAIT", "IO")),
        ("GFP_ATOMIC", _bits(flags, "HIGH")),
        ("GFP_NOIO", _bits(flags, "WAIT")),
        ("GFP_DMA", _bits(flags, "DMA")),
        ("__GFP_HIGHMEM", _bits(flags, "HIGHMEM")),
        ("GFP_DMA32", _bits(flags, "DMA32")),
    ]
    return out


def _new_composites(
    flags: tuple[tuple[str, int], ...],
    *,
    transhuge_light: bool,
    temporary: bool,
    nowait_nowarn: bool = False,
    highmem_entry: bool = True,
    movable_extra: int = 0,
    old_transhuge: bool = False,
) -> list[tuple[str, int]]:
    """4.4+: __GFP_RECLAIM = DIRECT_RECLAIM | KSWAPD_RECLAIM replaces __GFP_WAIT."""
    reclaim = _bits(flags, "DIRECT_RECLAIM", "KSWAPD_RECLAIM")
    kernel = reclaim | _bits(flags, "IO", "FS")
    user = kernel | _bits(flags, "HARDWALL")
    highuser = user | _bits(flags, "HIGHMEM")
    movable = highuser | _bits(flags, "MOVABLE") | movable_extra
    out: list[tuple[str, int]] = []
    if old_transhuge:  # 4.4-4.7: (HIGHUSER_MOVABLE|COMP|NOMEMALLOC|NORETRY|NOWARN) & ~KSWAPD
        out.append(
            (
                "GFP_TRANSHUGE",
                (movable | _bits(flags, "COMP", "NOMEMALLOC", "NORETRY", "NOWARN"))
                & ~_bits(flags, "KSWAPD_RECLAIM"),
            )
        )
    if transhuge_light:  # 4.8+
        light = (movable | _bits(flags, "COMP", "NOMEMALLOC", "NOWARN")) & ~reclaim
        out += [
            ("GFP_TRANSHUGE", light | _bits(flags, "DIRECT_RECLAIM")),
            ("GFP_TRANSHUGE_LIGHT", light),
        ]
    out += [("GFP_HIGHUSER_MOVABLE", movable), ("GFP_HIGHUSER", highuser), ("GFP_USER", user)]
    if temporary:
        out.append(("GFP_TEMPORARY", kernel | _bits(flags, "RECLAIMABLE")))
    atomic = _bits(flags, "HIGH", "ATOMIC", "KSWAPD_RECLAIM")
    nowait = _bits(flags, "KSWAPD_RECLAIM") | (_bits(flags, "NOWARN") if nowait_nowarn else 0)
    out += [
        ("GFP_KERNEL_ACCOUNT", kernel | _bits(flags, "ACCOUNT")),
        ("GFP_KERNEL", kernel),
        ("GFP_NOFS", reclaim | _bits(flags, "IO")),
        ("GFP_ATOMIC", atomic),
        ("GFP_NOIO", reclaim),
        ("GFP_NOWAIT", nowait),
        ("GFP_DMA", _bits(flags, "DMA")),
    ]
    if highmem_entry:
        out.append(("__GFP_HIGHMEM", _bits(flags, "HIGHMEM")))
    out.append(("GFP_DMA32", _bits(flags, "DMA32")))
    return out


def _table(
    composites: list[tuple[str, int]], singles: tuple[str, ...], flags: tuple[tuple[str, int], ...]
) -> tuple[tuple[str, int], ...]:
    """Composites then single flags in the given order; names absent from ``flags`` are
    skipped (except ``__GFP_RECLAIM``, a two-bit entry), zero masks dropped."""
    values = dict(flags)
    values["__GFP_RECLAIM"] = _bits(flags, "DIRECT_RECLAIM", "KSWAPD_RECLAIM")
    entries = list(composites) + [(name, values[name]) for name in singles if name in values]
    return tuple((name, value) for name, value in entries if value)


# Single-flag order of the kernel tables. 3.10's tracepoint table (include/trace/events/
# gfpflags.h) is the model for the pre-4.5 rendering; 4.5-6.14 walk this explicit list.
_SINGLES_OLD = (
    "__GFP_HIGH",
    "__GFP_WAIT",
    "__GFP_IO",
    "__GFP_FS",
    "__GFP_COLD",
    "__GFP_NOWARN",
    "__GFP_REPEAT",
    "__GFP_NOFAIL",
    "__GFP_NORETRY",
    "__GFP_COMP",
    "__GFP_ZERO",
    "__GFP_NOMEMALLOC",
    "__GFP_MEMALLOC",
    "__GFP_HARDWALL",
    "__GFP_THISNODE",
    "__GFP_RECLAIMABLE",
    "__GFP_MOVABLE",
    "__GFP_KMEMCG",
    "__GFP_ACCOUNT",
    "__GFP_NOTRACK",
    "__GFP_WRITE",
    "__GFP_NO_KSWAPD",
    "__GFP_OTHER_NODE",
)
_SINGLES_45 = (
    "__GFP_HIGH",
    "__GFP_ATOMIC",
    "__GFP_IO",
    "__GFP_FS",
    "__GFP_COLD",
    "__GFP_NOWARN",
    "__GFP_REPEAT",
    "__GFP_RETRY_MAYFAIL",
    "__GFP_NOFAIL",
    "__GFP_NORETRY",
    "__GFP_COMP",
    "__GFP_ZERO",
    "__GFP_NOMEMALLOC",
    "__GFP_MEMALLOC",
    "__GFP_HARDWALL",
    "__GFP_THISNODE",
    "__GFP_RECLAIMABLE",
    "__GFP_MOVABLE",
    "__GFP_ACCOUNT",
    "__GFP_NOTRACK",
    "__GFP_WRITE",
    "__GFP_RECLAIM",
    "__GFP_DIRECT_RECLAIM",
    "__GFP_KSWAPD_RECLAIM",
    "__GFP_OTHER_NODE",
)
# 5.14-6.14 append __GFP_ZEROTAGS (from 5.18 the KASAN names follow only with
# CONFIG_KASAN_HW_TAGS; __GFP_NOLOCKDEP is never in these tables and prints as hex).
_SINGLES_ZEROTAGS = (*_SINGLES_45, "__GFP_ZEROTAGS")
# 5.14-5.17 list __GFP_SKIP_KASAN_POISON unconditionally (5.18 made it KASAN_HW_TAGS-only).
_SINGLES_KASAN = (*_SINGLES_ZEROTAGS, "__GFP_SKIP_KASAN_POISON")
# 6.15+: __GFP_RECLAIM after the composites, then every flag in enum-bit order
# (TRACE_GFP_FLAGS), including NOLOCKDEP / NO_OBJ_EXT when configured.
_SINGLES_ENUM = (
    "__GFP_DMA",
    "__GFP_HIGHMEM",
    "__GFP_DMA32",
    "__GFP_MOVABLE",
    "__GFP_RECLAIMABLE",
    "__GFP_HIGH",
    "__GFP_IO",
    "__GFP_FS",
    "__GFP_ZERO",
    "__GFP_DIRECT_RECLAIM",
    "__GFP_KSWAPD_RECLAIM",
    "__GFP_WRITE",
    "__GFP_NOWARN",
    "__GFP_RETRY_MAYFAIL",
    "__GFP_NOFAIL",
    "__GFP_NORETRY",
    "__GFP_MEMALLOC",
    "__GFP_COMP",
    "__GFP_NOMEMALLOC",
    "__GFP_HARDWALL",
    "__GFP_THISNODE",
    "__GFP_ACCOUNT",
    "__GFP_ZEROTAGS",
    "__GFP_NOLOCKDEP",
    "__GFP_NO_OBJ_EXT",
)


def _enum_table(flags: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    composites = _new_composites(
        flags, transhuge_light=True, temporary=False, nowait_nowarn=True, highmem_entry=False
    )
    reclaim = ("__GFP_RECLAIM", _bits(flags, "DIRECT_RECLAIM", "KSWAPD_RECLAIM"))
    values = dict(flags)
    singles = [(name, values[name]) for name in _SINGLES_ENUM if name in values]
    return tuple((n, v) for n, v in [*composites, reclaim, *singles] if v)


def _era(
    key: str,
    label: str,
    family: str,
    first: Version | None,
    until: Version | None,
    flags: tuple[tuple[str, int], ...],
    table: tuple[tuple[str, int], ...],
    sources: str,
    *,
    rhel: int | None = None,
    prints_names: bool = True,
) -> GfpEra:
    ordered = tuple(sorted(flags, key=lambda item: item[1]))
    # before 4.4 GFP_NOWAIT is GFP_ATOMIC & ~__GFP_HIGH == 0
    zero = ("GFP_NOWAIT",) if dict(flags).get("__GFP_WAIT") else ()
    return GfpEra(
        key, label, family, first, until, rhel, prints_names, ordered, table, sources, zero
    )


#: Every era, oldest first. Keys are stable identifiers used in JSON and on the command line.
ERAS: tuple[GfpEra, ...] = (
    _era(
        "2.6.32",
        "2.6.x up to 2.6.37 (2.6.32 layout)",
        "A",
        None,
        (2, 6, 38),
        _A,
        _table(_old_composites(_A, transhuge=False, kernel_account=False), _SINGLES_OLD, _A),
        "linux-2.6.32.9 include/linux/gfp.h",
        prints_names=False,
    ),
    _era(
        "rhel6",
        "RHEL6 2.6.32-*.el6",
        "A'",
        None,
        None,
        _A_RHEL6,
        _table(
            _old_composites(_A_RHEL6, transhuge=True, kernel_account=False), _SINGLES_OLD, _A_RHEL6
        ),
        "linux-2.6.32-642.6.2.el6 include/linux/gfp.h",
        rhel=6,
        prints_names=False,
    ),
    _era(
        "3.10",
        "2.6.38 to 4.3 (3.10 layout)",
        "B",
        (2, 6, 38),
        (4, 4, 0),
        _B,
        _table(_old_composites(_B, transhuge=True, kernel_account=False), _SINGLES_OLD, _B),
        "linux-3.10.4 include/linux/gfp.h",
        prints_names=False,
    ),
    _era(
        "rhel7",
        "RHEL7 3.10.0-*.el7",
        "B",
        None,
        None,
        _B_RHEL7,
        _table(
            _old_composites(_B_RHEL7, transhuge=True, kernel_account=True), _SINGLES_OLD, _B_RHEL7
        ),
        "linux-3.10.0-1160.el7 include/linux/gfp.h",
        rhel=7,
        prints_names=False,
    ),
    _era(
        "4.4",
        "4.4 to 4.7",
        "C",
        (4, 4, 0),
        (4, 8, 0),
        _C,
        _table(
            _new_composites(_C, transhuge_light=False, temporary=True, old_transhuge=True),
            _SINGLES_45,
            _C,
        ),
        "linux-4.4.155 include/linux/gfp.h; names as printed from 4.5 (%pGg)",
    ),
    _era(
        "4.8",
        "4.8 to 4.9",
        "C",
        (4, 8, 0),
        (4, 10, 0),
        _C,
        _table(_new_composites(_C, transhuge_light=True, temporary=True), _SINGLES_45, _C),
        "linux-4.9.229 include/linux/gfp.h, include/trace/events/mmflags.h",
    ),
    _era(
        "4.10",
        "4.10 to 4.12",
        "D",
        (4, 10, 0),
        (4, 13, 0),
        _D,
        _table(_new_composites(_D, transhuge_light=True, temporary=True), _SINGLES_45, _D),
        "4.10-4.12 include/trace/events/mmflags.h; linux-4.14.5 include/linux/gfp.h",
    ),
    _era(
        "4.13",
        "4.13",
        "D",
        (4, 13, 0),
        (4, 14, 0),
        _D13,
        _table(_new_composites(_D13, transhuge_light=True, temporary=True), _SINGLES_45, _D13),
        "__GFP_REPEAT renamed __GFP_RETRY_MAYFAIL in 4.13",
    ),
    _era(
        "4.14",
        "4.14",
        "D",
        (4, 14, 0),
        (4, 15, 0),
        _D13,
        _table(_new_composites(_D13, transhuge_light=True, temporary=False), _SINGLES_45, _D13),
        "linux-4.14.5 include/linux/gfp.h (GFP_TEMPORARY removed)",
    ),
    _era(
        "4.15",
        "4.15 to 4.17",
        "D",
        (4, 15, 0),
        (4, 18, 0),
        _D15,
        _table(_new_composites(_D15, transhuge_light=True, temporary=False), _SINGLES_45, _D15),
        "__GFP_COLD and __GFP_NOTRACK removed in 4.15, no bit moved until 4.18",
    ),
    _era(
        "4.18",
        "4.18 to 5.0 (and RHEL8)",
        "E",
        (4, 18, 0),
        (5, 1, 0),
        _E,
        _table(_new_composites(_E, transhuge_light=True, temporary=False), _SINGLES_45, _E),
        "linux-4.19 / 4.20 / 5.0.1 include/linux/gfp.h, include/trace/events/mmflags.h",
    ),
    _era(
        "5.1",
        "5.1 to 5.13",
        "F",
        (5, 1, 0),
        (5, 14, 0),
        _F1,
        _table(_new_composites(_F1, transhuge_light=True, temporary=False), _SINGLES_45, _F1),
        "linux-5.4.286 / 5.10.7 include/linux/gfp.h, include/trace/events/mmflags.h",
    ),
    _era(
        "5.14",
        "5.14 to 5.17 (and RHEL9)",
        "F",
        (5, 14, 0),
        (5, 18, 0),
        _F14,
        _table(
            _new_composites(_F14, transhuge_light=True, temporary=False, movable_extra=0x1000000),
            _SINGLES_KASAN,
            _F14,
        ),
        "linux-5.15.135 include/linux/gfp.h, include/trace/events/mmflags.h",
    ),
    _era(
        "5.18",
        "5.18 to 6.2",
        "F",
        (5, 18, 0),
        (6, 3, 0),
        _F18,
        _table(
            _new_composites(_F18, transhuge_light=True, temporary=False), _SINGLES_ZEROTAGS, _F18
        ),
        "linux-6.1.20 include/linux/gfp_types.h, include/trace/events/mmflags.h",
    ),
    _era(
        "6.3",
        "6.3 to 6.11",
        "G",
        (6, 3, 0),
        (6, 12, 0),
        _G3,
        _table(_new_composites(_G3, transhuge_light=True, temporary=False), _SINGLES_ZEROTAGS, _G3),
        "linux-6.6.9 include/linux/gfp_types.h, include/trace/events/mmflags.h",
    ),
    _era(
        "6.12",
        "6.12 to 6.14",
        "G",
        (6, 12, 0),
        (6, 15, 0),
        _G12,
        _table(
            _new_composites(_G12, transhuge_light=True, temporary=False, nowait_nowarn=True),
            _SINGLES_ZEROTAGS,
            _G12,
        ),
        "linux-6.12 include/linux/gfp_types.h, include/trace/events/mmflags.h",
    ),
    _era(
        "6.15",
        "6.15 and later",
        "G",
        (6, 15, 0),
        None,
        _G12,
        _enum_table(_G12),
        "linux-6.19 include/linux/gfp_types.h, include/trace/events/mmflags.h (TRACE_GFP_FLAGS)",
    ),
)

ERAS_BY_KEY: dict[str, GfpEra] = {era.key: era for era in ERAS}
