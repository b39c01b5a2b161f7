"""Decode a GFP mask as the kernel of a given release prints it and treats it.

A failure report says ``mode:0x20`` (2.6), ``mode:0x2080020(GFP_ATOMIC)`` (4.9) or
``mode:0x820(GFP_ATOMIC)`` (6.6): the same request in three bit layouts. What matters for the
diagnosis is what the mask *means* in that kernel:

- can it sleep (direct reclaim; ``__GFP_WAIT`` before 4.4, ``__GFP_DIRECT_RECLAIM`` after)?
- does it wake kswapd (no ``__GFP_NO_KSWAPD`` before 4.4, ``__GFP_KSWAPD_RECLAIM`` after)?
- which ``ALLOC_*`` flags does ``gfp_to_alloc_flags()`` give it, hence how far below the
  ``min`` watermark may it dip (GFP_ATOMIC: about 3/8 of min in every era)?
- which zones may it use (``gfp_zone()``)?

:func:`decode_gfp` answers these and renders the names exactly as the kernel's ``%pGg``
does (``format_flags()`` in ``lib/vsprintf.c``: walk the era's table in order, print every
entry whose whole mask is still set, clear it, join with ``|``, leftover bits as hex; a zero
mask prints nothing). The era comes from the release when known, else from the printed
names (the table that reproduces them exactly), else from the bits alone; the answer says
which, in ``era_reason``.

    >>> d = decode_gfp(0x2080020, "4.9.0-5-amd64")
    >>> d.names, d.can_sleep, d.wakes_kswapd, d.alloc_flags.names
    ('GFP_ATOMIC', False, True, 'HARDER|HIGH')
    >>> decode_gfp(0x820, printed="GFP_ATOMIC").era
    '6.15'
    >>> decode_gfp(0x20, "2.6.32-358.el6.x86_64").names
    'GFP_ATOMIC'
    >>> format_gfp(0x40d00, "6.3")
    'GFP_NOIO|__GFP_COMP|__GFP_ZERO'

Sources: kernel-facts §3.2-3.4 and §4, and the trees and patches listed in
:mod:`minfree.kernel.gfp_tables`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from minfree.kernel.alloc_flags import AllocFlags
from minfree.kernel.gfp_tables import ERAS, ERAS_BY_KEY, GfpEra, Version
from minfree.kernel.release import KernelRelease

__all__ = [
    "CONTEXTS",
    "ERAS",
    "ContextFlags",
    "GfpDecoding",
    "GfpEra",
    "alloc_flag_names",
    "alloc_flags_for",
    "decode_gfp",
    "era_for_release",
    "era_from_printed_masks",
    "format_gfp",
    "get_era",
    "gfp_zone",
    "infer_era_from_bits",
    "infer_eras_from_names",
    "min_fraction",
    "parse_mask",
    "split_mask_text",
]

#: gfp_t is a 32-bit unsigned int in every era.
MASK_LIMIT = 0xFFFFFFFF

#: Zone names by zone index (generic order; a real node has a subset: x86_64 has no
#: HighMem, 32-bit kernels have no DMA32). ``zones`` lists every name up to the highest.
_ZONE_NAMES = ("DMA", "DMA32", "Normal", "HighMem", "Movable")

#: Allocation contexts for which ``gfp_to_alloc_flags`` (plus the slow path's reserve
#: flags) can differ: an ordinary task, interrupt context, a realtime task, an OOM victim.
CONTEXTS = ("process", "interrupt", "rt_task", "oom_victim")


@dataclass(frozen=True)
class ContextFlags:
    """The ALLOC_ flags and reserve discount of one mask in one allocation context."""

    context: str
    alloc_flags: AllocFlags
    min_fraction: Fraction | None
    reserve_discount: str


@dataclass(frozen=True)
class GfpDecoding:
    """What a GFP mask means in one kernel era.

    ``names`` is the mask as the kernel's ``%pGg`` prints it (before 4.5, minfree's
    rendering in the same style). ``printed`` is what the log printed, if given, and
    ``printed_matches`` whether ``names`` reproduces it (None when nothing was printed).
    ``alloc_flags`` are those of the slow path's watermark check for an ordinary task in
    process context; ``other_contexts`` lists the contexts where they differ.
    ``min_fraction`` is the share of the ``min`` watermark the check uses (3/8 for
    GFP_ATOMIC), None when the check is skipped (ALLOC_NO_WATERMARKS).
    ``highest_zone`` is ``gfp_zone()``'s answer, None for an invalid zone-modifier mix.
    """

    mask: int
    names: str
    era: str
    era_label: str
    era_inferred: bool
    era_reason: str
    can_sleep: bool
    sleep_reason: str
    wakes_kswapd: bool
    kswapd_reason: str
    alloc_flags: AllocFlags
    min_fraction: Fraction | None
    reserve_discount: str
    highest_zone: str | None
    zones: tuple[str, ...]
    nowarn: bool
    comp: bool
    nomemalloc: bool
    memalloc: bool
    flags: tuple[str, ...]
    unknown_bits: int
    printed: str | None
    printed_matches: bool | None
    order: int
    other_contexts: tuple[ContextFlags, ...]

    @property
    def hex(self) -> str:
        """The mask as the kernel prints it (``%#x``; the kernel prints 0 as ``0x0``)."""
        return f"{self.mask:#x}" if self.mask else "0x0"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``minfree gfp --json`` and the scan JSON's ``gfp`` object)."""
        return {
            "mask": self.hex,
            "decoded": self.names,
            "printed": self.printed,
            "printed_matches": self.printed_matches,
            "era": self.era,
            "era_label": self.era_label,
            "era_inferred": self.era_inferred,
            "era_reason": self.era_reason,
            "can_sleep": self.can_sleep,
            "sleep_reason": self.sleep_reason,
            "wakes_kswapd": self.wakes_kswapd,
            "kswapd_reason": self.kswapd_reason,
            "alloc_flags": alloc_flag_names(self.alloc_flags, self.era),
            "min_fraction": _fraction_text(self.min_fraction),
            "reserve_discount": self.reserve_discount,
            "highest_zone": self.highest_zone,
            "zones": list(self.zones),
            "nowarn": self.nowarn,
            "comp": self.comp,
            "nomemalloc": self.nomemalloc,
            "memalloc": self.memalloc,
            "flags": list(self.flags),
            "unknown_bits": f"{self.unknown_bits:#x}" if self.unknown_bits else None,
            "order": self.order,
            "other_contexts": [
                {
                    "context": ctx.context,
                    "alloc_flags": alloc_flag_names(ctx.alloc_flags, self.era),
                    "min_fraction": _fraction_text(ctx.min_fraction),
                    "reserve_discount": ctx.reserve_discount,
                }
                for ctx in self.other_contexts
            ],
        }


# --------------------------------------------------------------------------------------
# Parsing mask text

_MASK_TEXT = re.compile(
    r"^\s*(?:(?:mode|gfp_mask|gfp)\s*[:=]\s*)?"
    r"(?P<number>0[xX][0-9a-fA-F]+|[dD][eE][cC]:[0-9]+|[0-9a-fA-F]+)"
    r"\s*(?:\((?P<names>[^()]*)\))?\s*,?\s*$"
)


def split_mask_text(text: str) -> tuple[int, str | None]:
    """Parse ``0x2080020(GFP_ATOMIC)``-style text into (mask, printed names or None).

    Accepts what a log shows (``mode:0x20``, ``gfp_mask=0x24280ca(...)``) as well as a bare
    number. Numbers are hexadecimal, with or without ``0x``, because the kernel prints
    every GFP mask in hex (``d0`` is GFP_KERNEL on 3.x, not a decimal); decimal needs an
    explicit ``dec:`` prefix (``dec:32`` == ``0x20``).
    Raises :class:`~minfree.errors.ParseError` for anything else or for values above 32 bits.

        >>> split_mask_text("mode:0x2080020(GFP_ATOMIC)")
        (34078752, 'GFP_ATOMIC')
        >>> split_mask_text("20")
        (32, None)
    """
    from minfree.errors import ParseError

    if not isinstance(text, str):
        raise ParseError(f"a GFP mask must be text, not {type(text).__name__}")
    match = _MASK_TEXT.match(text)
    if not match:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ParseError(
            f"not a GFP mask: {shown!r} (expected hex such as 0x2080020 or 0x820(GFP_ATOMIC); "
            "decimal needs a dec: prefix)"
        )
    number = match.group("number")
    decimal = number[:4].lower() == "dec:"
    value = int(number[4:], 10) if decimal else int(number, 16)
    if value > MASK_LIMIT:
        raise ParseError(f"GFP mask {number} does not fit in 32 bits (gfp_t is unsigned int)")
    names = match.group("names")
    return value, (names.strip() if names is not None else None)


def parse_mask(text: str) -> int:
    """The mask value of ``text`` (see :func:`split_mask_text` for the accepted forms).

        >>> parse_mask("0x820"), parse_mask("820"), parse_mask("dec:32")
        (2080, 2080, 32)
    """
    return split_mask_text(text)[0]


# --------------------------------------------------------------------------------------
# Rendering (%pGg)


def get_era(era: str | GfpEra) -> GfpEra:
    """The :class:`GfpEra` for a key such as ``"4.8"`` or ``"rhel7"``."""
    if isinstance(era, GfpEra):
        return era
    try:
        return ERAS_BY_KEY[era]
    except KeyError:
        from minfree.errors import UsageError

        known = ", ".join(ERAS_BY_KEY)
        raise UsageError(f"unknown GFP era {era!r} (known: {known})") from None


def format_gfp(mask: int, era: str | GfpEra) -> str:
    """Render ``mask`` with the era's table exactly as ``format_flags()`` does.

        >>> format_gfp(0x2084120, "4.8")
        'GFP_ATOMIC|__GFP_COLD|__GFP_COMP'
        >>> format_gfp(0x80000000, "6.3"), format_gfp(0, "6.3")
        ('0x80000000', '')
    """
    table = get_era(era).table
    _check_mask(mask)
    parts: list[str] = []
    remaining = mask
    for name, value in table:
        if not remaining:
            break
        if remaining & value == value:
            parts.append(name)
            remaining &= ~value
    if remaining:
        parts.append(f"{remaining:#x}")
    return "|".join(parts)


def _check_mask(mask: int) -> None:
    if not isinstance(mask, int) or isinstance(mask, bool) or not 0 <= mask <= MASK_LIMIT:
        raise ValueError(f"a GFP mask is a 32-bit unsigned integer, got {mask!r}")


def _single_flags(mask: int, era: GfpEra) -> tuple[tuple[str, ...], int]:
    names = tuple(name for name, value in era.flags if mask & value)
    return names, mask & ~era.known_bits


# --------------------------------------------------------------------------------------
# Choosing the era


def era_for_release(release: KernelRelease) -> tuple[GfpEra, str]:
    """The era of a parsed release, with the reason in words.

    RHEL kernels are chosen by their ``.elN`` tag because Red Hat backports change layouts
    (RHEL6 has ``__GFP_NO_KSWAPD``, RHEL7 ``__GFP_ACCOUNT``); el8 and el9 follow their base
    version (4.18, 5.14). Releases older than 2.6.32 get the 2.6.32 table, the oldest read.
    """
    rhel = release.rhel
    if rhel in (6, 7) and release.version[:2] in ((2, 6), (3, 10)):
        era = ERAS_BY_KEY[f"rhel{rhel}"]
        return era, f"release {release.text} is a RHEL{rhel} kernel (Red Hat's own layout)"
    version = release.version
    for era in ERAS:
        if era.rhel is not None:
            continue
        if (era.first is None or version >= era.first) and (era.until is None or version < era.until):
            note = ""
            if version < (2, 6, 32):
                note = " (older than any table read; the 2.6.32 layout is the nearest)"
            return era, f"release {release.text} falls in {era.label}{note}"
    raise AssertionError("eras cover every version")  # pragma: no cover


def infer_eras_from_names(mask: int, printed: str) -> tuple[GfpEra, ...]:
    """Every era (that prints names) whose ``%pGg`` rendering of ``mask`` equals ``printed``."""
    wanted = _normalise_printed(printed)
    return tuple(era for era in ERAS if era.prints_names and format_gfp(mask, era) == wanted)


def era_from_printed_masks(pairs: list[tuple[int, str]] | tuple[tuple[int, str], ...]
                           ) -> GfpEra | None:
    """One era for several (mask, printed names) pairs from the same kernel, e.g. every
    report of one log: the newest era whose table reproduces all of them, else None.

    One mask alone is often ambiguous (``0xc00(GFP_NOIO)`` prints the same from 5.1 to
    6.19); ``0xa20(GFP_ATOMIC)`` next to it pins the log to 5.1-6.2.

        >>> era_from_printed_masks([(0xC00, "GFP_NOIO"), (0xA20, "GFP_ATOMIC")]).key
        '5.18'
    """
    common: set[str] | None = None
    for mask, printed in pairs:
        keys = {era.key for era in infer_eras_from_names(mask, printed)}
        common = keys if common is None else common & keys
    if not common:
        return None
    return _newest(tuple(era for era in ERAS if era.key in common))


def infer_era_from_bits(mask: int, *, hex_only: bool = False) -> tuple[GfpEra, str]:
    """Guess the era of a bare mask: the table that explains it best.

    Score per era: fewest unknown bits, then most bits covered by ``GFP_*`` composites,
    then fewest names; ties go to the newest upstream era. So ``0x20`` reads as 2.6/3.x
    ``GFP_ATOMIC`` (not 5.x ``__GFP_HIGH``), ``0x2080020`` as 4.4-4.9 ``GFP_ATOMIC``, and
    ``0xcc0`` as ``GFP_KERNEL`` of the newest era. ``hex_only`` says the kernel printed the
    hex without names, which only kernels before 4.5 do: the newer tables are left out.
    """
    best: tuple[tuple[int, int, int, int], GfpEra] | None = None
    for rank, era in enumerate(ERAS):
        if hex_only and era.prints_names and era.key != "4.4":
            continue
        rendered = format_gfp(mask, era)
        unknown = mask & ~era.known_bits
        covered = 0
        tokens = rendered.split("|") if rendered else []
        for token in tokens:
            value = era.composite(token)
            if value is not None and token.startswith("GFP_"):
                covered |= value
        preference = -rank if era.rhel is None else 1000 - rank
        score = (bin(unknown).count("1"), -bin(covered).count("1"), len(tokens), preference)
        if best is None or score < best[0]:
            best = (score, era)
    assert best is not None
    era = best[1]
    rendered = format_gfp(mask, era) or "(no flags)"
    among = " among the kernels that print no names (before 4.5)" if hex_only else ""
    return era, (f"inferred from the bits alone: {rendered} in {era.label} explains them "
                 f"best{among}")


def _normalise_printed(printed: str) -> str:
    text = printed.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    return text


def _choose_era(mask: int, release: str | KernelRelease | None,
                printed: str | None, hex_only: bool = False) -> tuple[GfpEra, bool, str]:
    parsed: KernelRelease | None
    if isinstance(release, KernelRelease):
        parsed = release
    else:
        parsed = KernelRelease.try_parse(release) if release else None
    unparsed_note = ""
    if release and parsed is None:
        unparsed_note = f"release {release!r} not understood; "

    matching = infer_eras_from_names(mask, printed) if printed is not None else ()
    if parsed is not None:
        era, reason = era_for_release(parsed)
        if printed is None or era in matching or not matching:
            if printed is not None and not matching:
                reason += "; no table reproduces the printed names exactly"
            return era, False, reason
        # The printed names contradict the version (a vendor backport): trust the data,
        # taking the matching era nearest to the version's.
        position = ERAS.index(era)
        nearest = min(matching, key=lambda e: (abs(ERAS.index(e) - position), -ERAS.index(e)))
        return nearest, True, (
            f"{reason}, but the printed names are what the {nearest.label} table prints: "
            f"decoded with that table"
        )
    if matching:
        chosen = _newest(matching)
        if len(matching) == 1:
            reason = f"inferred from the printed names: only the {chosen.label} table prints them"
        else:
            reason = (f"inferred from the printed names: the tables of {_span(matching)} print "
                      f"them; using {chosen.label}")
        return chosen, True, unparsed_note + reason
    era, reason = infer_era_from_bits(mask, hex_only=hex_only and printed is None)
    if printed is not None:
        reason += "; no table reproduces the printed names exactly"
    return era, True, unparsed_note + reason


def _version_text(version: Version) -> str:
    return ".".join(str(part) for part in (version if version[2] else version[:2]))


def _span(eras: tuple[GfpEra, ...]) -> str:
    """Release span of several eras in words, e.g. ``5.1 to 6.14`` (runs of neighbouring
    eras are merged; separate runs are listed)."""
    upstream_all = [e for e in ERAS if e.rhel is None]
    chosen = [e for e in upstream_all if e in eras]
    runs: list[list[GfpEra]] = []
    for era in chosen:
        if runs and upstream_all.index(runs[-1][-1]) + 1 == upstream_all.index(era):
            runs[-1].append(era)
        else:
            runs.append([era])
    parts = []
    for run in runs:
        first, last = run[0], run[-1]
        start = _version_text(first.first) if first.first else "2.6"
        if last.until is None:
            parts.append(f"{start} and later")
        else:
            major, minor, patch = last.until
            end = (major, minor, patch - 1) if patch else (major, minor - 1, 0)
            # a one-release era ("4.13") needs no range
            parts.append(start if end == first.first else f"{start} to {_version_text(end)}")
    rhel = [e.label for e in eras if e.rhel is not None]
    return ", ".join(parts + rhel)


def _newest(eras: tuple[GfpEra, ...]) -> GfpEra:
    upstream = [e for e in eras if e.rhel is None] or list(eras)
    return max(upstream, key=ERAS.index)


# --------------------------------------------------------------------------------------
# Meaning: sleep, kswapd, gfp_to_alloc_flags, zones

_OLD = frozenset({"2.6.32", "rhel6", "3.10", "rhel7"})
_NEW = frozenset({"6.3", "6.12", "6.15"})
_OOM_FLAG = frozenset({"4.14", "4.15", "4.18", "5.1", "5.14", "5.18"}) | _NEW  # 4.14+


def _can_sleep(mask: int, era: GfpEra) -> bool:
    if era.key in _OLD:
        return bool(mask & era.flag("WAIT"))
    return bool(mask & era.flag("DIRECT_RECLAIM"))


def _sleep_reason(mask: int, era: GfpEra) -> str:
    flag = "__GFP_WAIT" if era.key in _OLD else "__GFP_DIRECT_RECLAIM"
    if _can_sleep(mask, era):
        return f"{flag} is set: it may reclaim and compact directly before it fails"
    return (f"no {flag}: no direct reclaim or compaction, it fails as soon as no zone "
            "passes the watermark check")


def _kswapd_reason(mask: int, era: GfpEra) -> str:
    if era.key in _OLD:
        if era.flag("NO_KSWAPD") and mask & era.flag("NO_KSWAPD"):
            return "__GFP_NO_KSWAPD is set: kswapd is not woken"
        return "the slow path wakes kswapd for every mask without __GFP_NO_KSWAPD"
    if _wakes_kswapd(mask, era):
        return "__GFP_KSWAPD_RECLAIM is set: the slow path wakes kswapd"
    return "no __GFP_KSWAPD_RECLAIM: kswapd is not woken"


def _wakes_kswapd(mask: int, era: GfpEra) -> bool:
    if era.key in _OLD:
        # 2.6.32 wakes kswapd for every slow-path allocation; __GFP_NO_KSWAPD (2.6.38+,
        # RHEL6 backport) opts out, used by THP.
        return not mask & era.flag("NO_KSWAPD")
    return bool(mask & era.flag("KSWAPD_RECLAIM"))


def gfp_migratetype(mask: int, era: str | GfpEra) -> str:
    """The free lists an allocation of ``mask`` takes from, as ``gfp_migratetype()``
    (include/linux/gfp.h; ``allocflags_to_migratetype`` before 4.13) decides it:
    ``__GFP_MOVABLE`` gives Movable, ``__GFP_RECLAIMABLE`` Reclaimable, neither Unmovable.
    Named as /proc/pagetypeinfo prints the types (the numbering changed in 4.4).

        >>> era = get_era("4.18")
        >>> gfp_migratetype(era.composite("GFP_ATOMIC"), era)
        'Unmovable'
        >>> gfp_migratetype(era.composite("GFP_HIGHUSER_MOVABLE"), era)
        'Movable'
    """
    era = get_era(era)
    if mask & era.flag("RECLAIMABLE") and not mask & era.flag("MOVABLE"):
        return "Reclaimable"
    if mask & era.flag("MOVABLE"):
        return "Movable"
    return "Unmovable"


def _is_movable_migratetype(mask: int, era: GfpEra) -> bool:
    movable, reclaimable = era.flag("MOVABLE"), era.flag("RECLAIMABLE")
    return bool(mask & movable) and not mask & reclaimable


def alloc_flags_for(mask: int, era: str | GfpEra, context: str = "process", *,
                    order: int = 0, release: str | KernelRelease | None = None) -> AllocFlags:
    """The ALLOC_ flags of the slow path's watermark check (``gfp_to_alloc_flags()`` plus
    the reserve flags that replace them), for one allocation context.

    ``context``: ``process`` (an ordinary task), ``interrupt`` (no rt/OOM/PF_MEMALLOC
    rules apply), ``rt_task`` (realtime task, process context), ``oom_victim`` (the task
    the OOM killer chose). ALLOC_CMA assumes CONFIG_CMA. The watermark level (WMARK_MIN,
    value 0) is implied. ``release`` refines rules that changed inside an era (ALLOC_KSWAPD
    from 5.0, the THP "atomic" test from 3.16, ALLOC_HIGHATOMIC from 6.17).

        >>> alloc_flags_for(0x20, "3.10").names
        'HARDER|HIGH'
        >>> alloc_flag_names(alloc_flags_for(0x800, "6.3"), "6.3")
        ['NON_BLOCK', 'CPUSET', 'KSWAPD']
    """
    era = get_era(era)
    _check_mask(mask)
    if isinstance(release, str):
        release = KernelRelease.try_parse(release)
    if context not in CONTEXTS:
        raise ValueError(f"unknown allocation context {context!r} (known: {', '.join(CONTEXTS)})")
    if era.key in _OLD:
        return _alloc_flags_old(mask, era, context, release)
    if era.key in _NEW:
        return _alloc_flags_new(mask, era, context, order, release)
    return _alloc_flags_mid(mask, era, context, release)


def _memalloc_allowed(mask: int, era: GfpEra) -> bool:
    """``__GFP_MEMALLOC`` (3.6+) grants ALLOC_NO_WATERMARKS unless ``__GFP_NOMEMALLOC``."""
    memalloc = era.flag("MEMALLOC")
    return bool(memalloc and mask & memalloc) and not mask & era.flag("NOMEMALLOC")


def _alloc_flags_old(mask: int, era: GfpEra, context: str,
                     release: KernelRelease | None) -> AllocFlags:
    # 2.6.32 / 3.10 gfp_to_alloc_flags(): __GFP_HIGH is copied (ALLOC_HIGH == 0x20);
    # "cannot sleep" gets ALLOC_HARDER and drops ALLOC_CPUSET. From "mm, thp: do not allow
    # thp faults to avoid cpuset restrictions" (David Rientjes, posted 2014-07-23, Cc
    # stable; 3.16 assumed) and in RHEL7, "atomic" is !(__GFP_WAIT | __GFP_NO_KSWAPD) so
    # THP's no-kswapd masks are not treated as GFP_ATOMIC.
    flags = AllocFlags.CPUSET
    if mask & era.flag("HIGH"):
        flags |= AllocFlags.HIGH
    thp_rule = era.key == "rhel7" or (
        era.key == "3.10" and release is not None and release.version >= (3, 16, 0)
    )
    atomic_bits = era.flag("WAIT") | (era.flag("NO_KSWAPD") if thp_rule else 0)
    nomemalloc = bool(mask & era.flag("NOMEMALLOC"))
    if not mask & atomic_bits:
        # Upstream 2.6.32 gives HARDER even with __GFP_NOMEMALLOC; the THP series
        # (2.6.38, backported to RHEL6: 2.6.32-642 read) stopped that.
        if not (nomemalloc and era.key != "2.6.32"):
            flags |= AllocFlags.HARDER
        flags &= ~AllocFlags.CPUSET
    elif context == "rt_task":
        flags |= AllocFlags.HARDER
    if era.key in ("3.10", "rhel7") and _is_movable_migratetype(mask, era):
        flags |= AllocFlags.CMA
    if _memalloc_allowed(mask, era) or (context == "oom_victim" and not nomemalloc):
        # TIF_MEMDIE (OOM victim) outside interrupt: no watermarks at all.
        flags |= AllocFlags.NO_WATERMARKS
    return flags


def _alloc_flags_mid(mask: int, era: GfpEra, context: str,
                     release: KernelRelease | None) -> AllocFlags:
    # 4.4-6.2: ALLOC_HARDER comes from __GFP_ATOMIC, not from "cannot sleep", so
    # GFP_NOWAIT gets no discount; rt tasks get HARDER for any non-__GFP_ATOMIC mask.
    flags = AllocFlags.CPUSET
    if mask & era.flag("HIGH"):
        flags |= AllocFlags.HIGH
    nomemalloc = bool(mask & era.flag("NOMEMALLOC"))
    if mask & era.flag("ATOMIC"):
        if not nomemalloc:
            flags |= AllocFlags.HARDER
        flags &= ~AllocFlags.CPUSET
    elif context == "rt_task":
        flags |= AllocFlags.HARDER
    kswapd_flag = era.key in ("5.1", "5.14", "5.18") or (
        era.key == "4.18" and release is not None and release.version >= (5, 0, 0)
    )
    if kswapd_flag and mask & era.flag("KSWAPD_RECLAIM"):
        flags |= AllocFlags.KSWAPD  # 5.0+: ALLOC_KSWAPD (value 0x200 in 5.0-5.x, later 0x800)
    cma = AllocFlags.CMA if _is_movable_migratetype(mask, era) else AllocFlags(0)
    flags |= cma
    if _memalloc_allowed(mask, era):
        return _reserve(flags, AllocFlags.NO_WATERMARKS, cma, era)
    if context == "oom_victim" and not nomemalloc:
        if era.key in _OOM_FLAG:
            return _reserve(flags, AllocFlags.OOM, cma, era)
        return _reserve(flags, AllocFlags.NO_WATERMARKS, cma, era)
    return flags


def _reserve(flags: AllocFlags, reserve: AllocFlags, cma: AllocFlags, era: GfpEra) -> AllocFlags:
    """4.14+ replace the flags with the reserve flags (``alloc_flags = reserve_flags``;
    5.x adds ALLOC_CMA back via current_alloc_flags); before 4.14 they are ORed in."""
    if era.key in _OOM_FLAG:
        kept = cma if era.key not in ("4.14", "4.15", "4.18") else AllocFlags(0)
        return reserve | kept | (flags & AllocFlags.KSWAPD if era.key in _NEW else AllocFlags(0))
    return flags | reserve


def _alloc_flags_new(mask: int, era: GfpEra, context: str, order: int,
                     release: KernelRelease | None) -> AllocFlags:
    # 6.3+ (Mel Gorman, "mm/page_alloc: explicitly define how __GFP_HIGH non-blocking
    # allocations accesses reserves"): __GFP_HIGH -> ALLOC_MIN_RESERVE, "cannot sleep" ->
    # ALLOC_NON_BLOCK; cpuset is ignored only for MIN_RESERVE; rt/dl tasks that may
    # block get MIN_RESERVE.
    flags = AllocFlags.CPUSET
    if mask & era.flag("HIGH"):
        flags |= AllocFlags.MIN_RESERVE
    if mask & era.flag("KSWAPD_RECLAIM"):
        flags |= AllocFlags.KSWAPD
    nomemalloc = bool(mask & era.flag("NOMEMALLOC"))
    if not mask & era.flag("DIRECT_RECLAIM"):
        if not nomemalloc:
            flags |= AllocFlags.NON_BLOCK
            # "mm/page_alloc: only set ALLOC_HIGHATOMIC for __GPF_HIGH allocations"
            # (Thadeu Cascardo, posted 2025-08-14; 6.17 assumed, also in stable trees)
            # limits HIGHATOMIC to __GFP_HIGH callers; before it every non-blocking
            # order>0 request got it. Without a release, the newest era gets the fix.
            fixed = (release.version >= (6, 17, 0)) if release is not None else era.key == "6.15"
            if order > 0 and (not fixed or flags & AllocFlags.MIN_RESERVE):
                flags |= AllocFlags.HIGHATOMIC
        if flags & AllocFlags.MIN_RESERVE:
            flags &= ~AllocFlags.CPUSET
    elif context == "rt_task":
        flags |= AllocFlags.MIN_RESERVE
    cma = AllocFlags.CMA if _is_movable_migratetype(mask, era) else AllocFlags(0)
    flags |= cma
    if _memalloc_allowed(mask, era):
        return _reserve(flags, AllocFlags.NO_WATERMARKS, cma, era)
    if context == "oom_victim" and not nomemalloc:
        return _reserve(flags, AllocFlags.OOM, cma, era)
    return flags


def min_fraction(flags: AllocFlags, era: str | GfpEra) -> Fraction | None:
    """Share of ``min`` the order-0 watermark check compares with (None: no check).

    Exact for large ``min``; the kernel's integer division rounds each step down
    (kernel-facts §3.3: ``min -= min/2`` then ``min -= min/4``).

        >>> str(min_fraction(AllocFlags.HIGH | AllocFlags.HARDER, "3.10"))
        '3/8'
    """
    era = get_era(era)
    if flags & AllocFlags.NO_WATERMARKS:
        return None
    fraction = Fraction(1)
    if era.key in _NEW:
        if flags & AllocFlags.MIN_RESERVE:
            fraction /= 2
            if flags & AllocFlags.NON_BLOCK:
                fraction -= fraction / 4
        if flags & AllocFlags.OOM:
            fraction /= 2
        return fraction
    if flags & AllocFlags.HIGH:
        fraction /= 2
    harder = bool(flags & AllocFlags.HARDER) or bool(flags & AllocFlags.OOM)
    if harder:
        fraction -= fraction / 2 if flags & AllocFlags.OOM else fraction / 4
    return fraction


def _discount_text(flags: AllocFlags, era: GfpEra) -> tuple[Fraction | None, str]:
    fraction = min_fraction(flags, era)
    if fraction is None:
        return None, ("ignores the watermarks entirely (ALLOC_NO_WATERMARKS): "
                      "may take the last free pages")
    if fraction == 1:
        text = "no discount: must stay above the full min watermark"
        if era.key not in _OLD and era.key not in _NEW and not flags & AllocFlags.HARDER:
            text += " (and cannot use the highatomic reserve)"
        if era.key in _NEW and flags & AllocFlags.NON_BLOCK:
            text += " (ALLOC_NON_BLOCK alone gives no discount, but may use the highatomic reserve)"
        return fraction, text
    steps = []
    if era.key in _NEW:
        if flags & AllocFlags.MIN_RESERVE:
            steps.append("ALLOC_MIN_RESERVE halves min")
            if flags & AllocFlags.NON_BLOCK:
                steps.append("ALLOC_NON_BLOCK takes a further quarter off")
    else:
        if flags & AllocFlags.HIGH:
            steps.append("ALLOC_HIGH halves min")
        if flags & AllocFlags.HARDER and not flags & AllocFlags.OOM:
            steps.append("ALLOC_HARDER takes " + ("a further quarter off" if steps
                                                  else "a quarter off min"))
    if flags & AllocFlags.OOM:
        steps.append("ALLOC_OOM halves it" + (" again" if steps else ""))
    return fraction, f"may dip to about {fraction} of the min watermark ({'; '.join(steps)})"


def alloc_flag_names(flags: AllocFlags, era: str | GfpEra) -> list[str]:
    """Kernel names of the set ALLOC_ bits, using the 6.3+ names (MIN_RESERVE, NON_BLOCK)
    in the eras that have them.

        >>> alloc_flag_names(AllocFlags.HIGH | AllocFlags.HARDER, "6.3")
        ['NON_BLOCK', 'MIN_RESERVE']
    """
    new = get_era(era).key in _NEW
    names = []
    for member, old_name, new_name in (
        (AllocFlags.NO_WATERMARKS, "NO_WATERMARKS", "NO_WATERMARKS"),
        (AllocFlags.OOM, "OOM", "OOM"),
        (AllocFlags.HARDER, "HARDER", "NON_BLOCK"),
        (AllocFlags.HIGH, "HIGH", "MIN_RESERVE"),
        (AllocFlags.CPUSET, "CPUSET", "CPUSET"),
        (AllocFlags.CMA, "CMA", "CMA"),
        (AllocFlags.NOFRAGMENT, "NOFRAGMENT", "NOFRAGMENT"),
        (AllocFlags.HIGHATOMIC, "HIGHATOMIC", "HIGHATOMIC"),
        (AllocFlags.TRYLOCK, "TRYLOCK", "TRYLOCK"),
        (AllocFlags.KSWAPD, "KSWAPD", "KSWAPD"),
    ):
        if flags & member:
            names.append(new_name if new else old_name)
    return names


def _fraction_text(fraction: Fraction | None) -> str | None:
    return None if fraction is None else str(fraction)


def gfp_zone(mask: int, era: str | GfpEra) -> str | None:
    """Highest zone ``gfp_zone()`` allows (``GFP_ZONE_TABLE``), None for invalid mixes.

    ``__GFP_HIGHMEM`` gives HighMem, which is Normal on 64-bit kernels (no HighMem zone);
    HighMem with ``__GFP_MOVABLE`` gives Movable; Movable alone is Normal.

        >>> gfp_zone(0x820, "6.3"), gfp_zone(0xcc4, "6.3"), gfp_zone(0x100cca, "6.3")
        ('Normal', 'DMA32', 'Movable')
    """
    era = get_era(era)
    dma, highmem, dma32 = mask & era.flag("DMA"), mask & era.flag("HIGHMEM"), mask & era.flag("DMA32")
    movable = bool(mask & era.flag("MOVABLE"))
    if (bool(dma) + bool(highmem) + bool(dma32)) > 1:
        return None  # GFP_ZONE_BAD: the kernel hits VM_BUG_ON
    if dma:
        return "DMA"
    if dma32:
        return "DMA32"
    if highmem:
        return "Movable" if movable else "HighMem"
    return "Normal"


def _zones_up_to(highest: str | None) -> tuple[str, ...]:
    if highest is None:
        return ()
    return _ZONE_NAMES[: _ZONE_NAMES.index(highest) + 1]


# --------------------------------------------------------------------------------------
# The public entry point


def decode_gfp(mask: int, release: str | KernelRelease | None = None,
               printed: str | None = None, *, order: int = 0,
               era: str | GfpEra | None = None, hex_only: bool = False) -> GfpDecoding:
    """Decode ``mask`` for a kernel ``release`` (``uname -r`` text or parsed), keeping and
    checking the names the log ``printed`` (with or without parentheses).

    Without a release the era is inferred: from ``printed`` when some table reproduces it
    exactly, else from the bits (:func:`infer_era_from_bits`); ``era_inferred`` is then
    True and ``era_reason`` says how. ``hex_only=True`` says the log printed the mask with
    no names at all (``mode:0x20``), which only kernels before 4.5 do; it narrows the
    inference from bits to those kernels. ``era`` (a key of :data:`ERAS`) forces a table.
    ``order`` matters only on 6.3+ (ALLOC_HIGHATOMIC). Raises ValueError for a mask
    outside 0..2**32-1.

        >>> d = decode_gfp(0xa20, "5.10.0-9-amd64", "GFP_ATOMIC")
        >>> d.printed_matches, str(d.min_fraction), d.highest_zone, d.zones
        (True, '3/8', 'Normal', ('DMA', 'DMA32', 'Normal'))
    """
    _check_mask(mask)
    if not isinstance(order, int) or isinstance(order, bool) or order < 0:
        raise ValueError(f"order must be a non-negative integer, got {order!r}")
    if isinstance(release, str | KernelRelease | None) and isinstance(printed, str | None):
        # A log holds the same few masks thousands of times: decode each combination once.
        # The result is immutable, so sharing it is safe.
        return _decode_cached(mask, release, printed, order, era, hex_only)
    return _decode(mask, release, printed, order, era, hex_only)


@functools.lru_cache(maxsize=4096)
def _decode_cached(mask: int, release: str | KernelRelease | None, printed: str | None,
                   order: int, era: str | GfpEra | None, hex_only: bool) -> GfpDecoding:
    return _decode(mask, release, printed, order, era, hex_only)


def _decode(mask: int, release: str | KernelRelease | None, printed: str | None, order: int,
            era: str | GfpEra | None, hex_only: bool = False) -> GfpDecoding:
    if era is not None:
        chosen = get_era(era)
        inferred, reason = False, f"era {chosen.key} chosen by the caller: {chosen.label}"
    else:
        chosen, inferred, reason = _choose_era(mask, release, printed, bool(hex_only))
    era = chosen
    parsed = release if isinstance(release, KernelRelease) else KernelRelease.try_parse(release)
    names = format_gfp(mask, era)
    flags = alloc_flags_for(mask, era, "process", order=order, release=parsed)
    fraction, discount = _discount_text(flags, era)
    others = []
    for context in CONTEXTS[1:]:
        other = alloc_flags_for(mask, era, context, order=order, release=parsed)
        if other != flags:
            other_fraction, other_text = _discount_text(other, era)
            others.append(ContextFlags(context, other, other_fraction, other_text))
    single, unknown = _single_flags(mask, era)
    highest = gfp_zone(mask, era)
    normalised = _normalise_printed(printed) if printed is not None else None
    return GfpDecoding(
        mask=mask,
        names=names,
        era=era.key,
        era_label=era.label,
        era_inferred=inferred,
        era_reason=reason,
        can_sleep=_can_sleep(mask, era),
        sleep_reason=_sleep_reason(mask, era),
        wakes_kswapd=_wakes_kswapd(mask, era),
        kswapd_reason=_kswapd_reason(mask, era),
        alloc_flags=flags,
        min_fraction=fraction,
        reserve_discount=discount,
        highest_zone=highest,
        zones=_zones_up_to(highest),
        nowarn=bool(mask & era.flag("NOWARN")),
        comp=bool(mask & era.flag("COMP")),
        nomemalloc=bool(mask & era.flag("NOMEMALLOC")),
        memalloc=bool(mask & era.flag("MEMALLOC")),
        flags=single + ((f"{unknown:#x}",) if unknown else ()),
        unknown_bits=unknown,
        printed=normalised,
        printed_matches=None if normalised is None else normalised == names,
        order=order,
        other_contexts=tuple(others),
    )
