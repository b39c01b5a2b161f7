"""GFP decoding against the kernel's own text and the tables of kernel-facts §3.4 and §4.

The expected values below are typed in from the kernel headers and real log lines, not
computed with the decoder's code, so a wrong bit in ``gfp_tables`` fails here.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

from minfree.errors import MinfreeError, ParseError
from minfree.kernel.alloc_flags import AllocFlags
from minfree.kernel.gfp import (
    alloc_flag_names,
    alloc_flags_for,
    decode_gfp,
    era_for_release,
    format_gfp,
    gfp_zone,
    infer_era_from_bits,
    infer_eras_from_names,
    min_fraction,
    parse_mask,
    split_mask_text,
)
from minfree.kernel.gfp_tables import ERAS, ERAS_BY_KEY
from minfree.kernel.release import KernelRelease

# kernel-facts §4.3 "Decoder check": real log masks, the release family they came from, and
# the names the kernel printed.
REAL_LOG_MASKS = [
    ("4.9.0-5-amd64", 0x2084120, "GFP_ATOMIC|__GFP_COLD|__GFP_COMP"),
    ("4.9.0-5-amd64", 0x2080024, "GFP_ATOMIC|GFP_DMA32"),
    ("4.12.0-rc3", 0x14210D2, "GFP_HIGHUSER|__GFP_NORETRY|__GFP_RECLAIMABLE"),
    ("4.18.0-139.el8.x86_64", 0x6200CA, "GFP_HIGHUSER_MOVABLE"),
    ("4.19.0-6-amd64", 0x6200CA, "GFP_HIGHUSER_MOVABLE"),
    ("5.4.0-42-generic", 0x40DC0, "GFP_KERNEL|__GFP_COMP|__GFP_ZERO"),
    ("5.10.0-9-amd64", 0xA20, "GFP_ATOMIC"),
    ("5.4.0-42-generic", 0x40CC0, "GFP_KERNEL|__GFP_COMP"),
    ("5.3.0-1021-raspi2", 0x100CCA, "GFP_HIGHUSER_MOVABLE"),
    ("6.5.9", 0x820, "GFP_ATOMIC"),
    ("6.6.9", 0xC04, "GFP_NOIO|GFP_DMA32"),
    ("6.6.9", 0x140CCA, "GFP_HIGHUSER_MOVABLE|__GFP_COMP"),
    ("6.6.9", 0xCC0, "GFP_KERNEL"),
]


@pytest.mark.parametrize(("release", "mask", "printed"), REAL_LOG_MASKS)
def test_real_log_masks_with_release(release, mask, printed):
    decoding = decode_gfp(mask, release, printed)
    assert decoding.names == printed
    assert decoding.printed_matches is True
    assert decoding.era_inferred is False


@pytest.mark.parametrize(("release", "mask", "printed"), REAL_LOG_MASKS)
def test_real_log_masks_without_release_infer_an_era_that_reproduces_them(release, mask, printed):
    decoding = decode_gfp(mask, None, printed)
    assert decoding.names == printed
    assert decoding.era_inferred is True
    assert "printed names" in decoding.era_reason
    # the era chosen from the release is among the eras the names point to
    assert era_for_release(KernelRelease.parse(release))[0] in infer_eras_from_names(mask, printed)


# kernel-facts §4.2, typed in per column. Eras of one column share the values unless noted.
COMPOSITES = {
    "GFP_ATOMIC": {"A": 0x20, "C": 0x2080020, "D": 0x1080020, "E": 0x480020, "F": 0xA20,
                   "G": 0x820},
    "GFP_KERNEL": {"A": 0xD0, "C": 0x24000C0, "D": 0x14000C0, "E": 0x6000C0, "F": 0xCC0,
                   "G": 0xCC0},
    "GFP_NOIO": {"A": 0x10, "C": 0x2400000, "D": 0x1400000, "E": 0x600000, "F": 0xC00,
                 "G": 0xC00},
    "GFP_NOFS": {"A": 0x50, "C": 0x2400040, "D": 0x1400040, "E": 0x600040, "F": 0xC40,
                 "G": 0xC40},
    "GFP_USER": {"A": 0x200D0, "C": 0x24200C0, "D": 0x14200C0, "E": 0x6200C0, "F": 0x100CC0,
                 "G": 0x100CC0},
    "GFP_HIGHUSER": {"A": 0x200D2, "C": 0x24200C2, "D": 0x14200C2, "E": 0x6200C2,
                     "F": 0x100CC2, "G": 0x100CC2},
    "GFP_HIGHUSER_MOVABLE": {"A": 0x200DA, "C": 0x24200CA, "D": 0x14200CA, "E": 0x6200CA,
                             "F": 0x100CCA, "G": 0x100CCA, "5.14": 0x1100CCA},
    "GFP_KERNEL_ACCOUNT": {"rhel7": 0x1000D0, "C": 0x25000C0, "D": 0x15000C0, "E": 0x7000C0,
                           "F": 0x400CC0, "G": 0x400CC0},
    "GFP_TRANSHUGE": {"rhel6": 0x4352DA, "3.10": 0x4352DA, "rhel7": 0x4352DA, "4.4": 0x4352CA,
                      "4.8": 0x4342CA, "D": 0x4342CA, "E": 0x2342CA, "F": 0x1C24CA,
                      "G": 0x1C24CA, "5.14": 0x11C24CA},
    "GFP_TRANSHUGE_LIGHT": {"4.8": 0x342CA, "D": 0x342CA, "E": 0x342CA, "F": 0x1C20CA,
                            "G": 0x1C20CA, "5.14": 0x11C20CA},
    "GFP_TEMPORARY": {"A": 0x800D0, "C": 0x24000D0, "4.10": 0x14000D0, "4.13": 0x14000D0},
    "GFP_NOWAIT": {"A": 0, "C": 0x2000000, "D": 0x1000000, "E": 0x400000, "F": 0x800, "6.3": 0x800,
                   "6.12": 0x2800, "6.15": 0x2800},
}
_FAMILY_OF = {"A'": "A", "B": "A"}


def _expected(name: str, era) -> int | None:
    row = COMPOSITES[name]
    for key in (era.key, era.family, _FAMILY_OF.get(era.family)):
        if key in row:
            return row[key]
    return None


@pytest.mark.parametrize("era", ERAS, ids=lambda era: era.key)
@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_composites_render_to_their_name_in_every_era(name, era):
    value = _expected(name, era)
    if value is None:
        assert era.composite(name) is None, f"{name} should not exist in {era.key}"
        return
    assert era.composite(name) == value
    if value == 0:  # GFP_NOWAIT before 4.4: a zero mask prints nothing
        assert format_gfp(value, era) == ""
        return
    assert format_gfp(value, era) == name
    assert decode_gfp(value, era=era.key).names == name


def test_gfp_nowait_is_zero_before_4_4_and_never_printed():
    for key in ("2.6.32", "rhel6", "3.10", "rhel7"):
        era = ERAS_BY_KEY[key]
        assert era.composite("GFP_NOWAIT") == 0
        assert "GFP_NOWAIT" not in dict(era.table)
    assert ERAS_BY_KEY["4.4"].composite("GFP_NOWAIT") == 0x2000000
    assert ERAS_BY_KEY["6.3"].composite("GFP_TEMPORARY") is None


def test_every_era_has_the_composites_of_its_column():
    # the test above would pass vacuously if a column letter were missing from the table
    for era in ERAS:
        for name in ("GFP_ATOMIC", "GFP_KERNEL", "GFP_NOFS", "GFP_NOIO", "GFP_USER"):
            assert _expected(name, era) is not None, (name, era.key)


# kernel-facts §4.1 spot checks, one per column and changed bit, plus the 4.15/4.18 split.
@pytest.mark.parametrize(("era", "flag", "value"), [
    ("2.6.32", "WAIT", 0x10), ("2.6.32", "RECLAIMABLE", 0x80000), ("2.6.32", "NO_KSWAPD", 0),
    ("rhel6", "NO_KSWAPD", 0x400000), ("rhel6", "OTHER_NODE", 0x800000), ("rhel6", "MEMALLOC", 0),
    ("3.10", "MEMALLOC", 0x2000), ("3.10", "WRITE", 0x1000000), ("3.10", "KMEMCG", 0x100000),
    ("rhel7", "ACCOUNT", 0x100000),
    ("4.4", "ATOMIC", 0x80000), ("4.4", "DIRECT_RECLAIM", 0x400000),
    ("4.8", "KSWAPD_RECLAIM", 0x2000000), ("4.8", "OTHER_NODE", 0x800000),
    ("4.10", "WRITE", 0x800000), ("4.10", "KSWAPD_RECLAIM", 0x1000000), ("4.10", "OTHER_NODE", 0),
    ("4.13", "RETRY_MAYFAIL", 0x400), ("4.13", "REPEAT", 0),
    ("4.15", "COLD", 0), ("4.15", "NOTRACK", 0), ("4.15", "KSWAPD_RECLAIM", 0x1000000),
    ("4.18", "WRITE", 0x100), ("4.18", "DIRECT_RECLAIM", 0x200000),
    ("4.18", "KSWAPD_RECLAIM", 0x400000), ("4.18", "NOLOCKDEP", 0x800000),
    ("5.1", "ZERO", 0x100), ("5.1", "ATOMIC", 0x200), ("5.1", "NOWARN", 0x2000),
    ("5.1", "NOLOCKDEP", 0x800000), ("5.14", "ZEROTAGS", 0x800000),
    ("5.14", "SKIP_KASAN_POISON", 0x1000000), ("5.14", "NOLOCKDEP", 0x2000000),
    ("5.18", "NOLOCKDEP", 0x8000000), ("6.3", "ATOMIC", 0), ("6.3", "ACCOUNT", 0x400000),
    ("6.12", "NO_OBJ_EXT", 0x1000000),
])
def test_flag_bits(era, flag, value):
    assert ERAS_BY_KEY[era].flag(flag) == value


def test_format_follows_the_kernel_algorithm():
    # leftover bits print as hex after the names; zero prints nothing
    assert format_gfp(0x4000000 | 0x820, "6.3") == "GFP_ATOMIC|0x4000000"
    assert format_gfp(0, "4.8") == ""
    assert format_gfp(0x80000000, "2.6.32") == "0x80000000"
    # the 6.15+ table prints single flags in bit order, the older ones in list order
    assert format_gfp(0x40D00, "6.3") == "GFP_NOIO|__GFP_COMP|__GFP_ZERO"
    assert format_gfp(0x40D00, "6.15") == "GFP_NOIO|__GFP_ZERO|__GFP_COMP"
    # __GFP_NOLOCKDEP is in no table before 6.15: hex
    assert format_gfp(0xCC0 | 0x8000000, "5.18") == "GFP_KERNEL|0x8000000"
    # 6.12 made GFP_NOWAIT include __GFP_NOWARN
    assert format_gfp(0x2800, "6.3") == "GFP_NOWAIT|__GFP_NOWARN"
    assert format_gfp(0x2800, "6.12") == "GFP_NOWAIT"
    # both reclaim bits are GFP_NOIO, which comes before the single flags
    assert format_gfp(0x100C00, "5.18") == "GFP_NOIO|__GFP_HARDWALL"
    # 5.14-5.17: GFP_HIGHUSER_MOVABLE carries __GFP_SKIP_KASAN_POISON
    assert format_gfp(0x100CCA, "5.14") == "GFP_HIGHUSER|__GFP_MOVABLE"
    assert format_gfp(0x1100CCA, "5.14") == "GFP_HIGHUSER_MOVABLE"
    # ... and names it on its own until 5.18 made it depend on CONFIG_KASAN_HW_TAGS
    assert format_gfp(0xCC0 | 0x1000000, "5.14") == "GFP_KERNEL|__GFP_SKIP_KASAN_POISON"
    assert format_gfp(0xCC0 | 0x1000000, "5.18") == "GFP_KERNEL|0x1000000"


def test_4_15_keeps_the_4_14_positions():
    # 4.15.0-rc1 log (tests/fixtures/kernel-logs/reports/038.log) prints 0x1080020(GFP_ATOMIC)
    assert decode_gfp(0x1080020, "4.15.0-rc1").names == "GFP_ATOMIC"
    assert decode_gfp(0x480020, "4.18.0-80.el8.x86_64").names == "GFP_ATOMIC"
    assert decode_gfp(0x480020, "4.15.0").names != "GFP_ATOMIC"


@pytest.mark.parametrize(("release", "era"), [
    ("2.6.16", "2.6.32"), ("2.6.30.1", "2.6.32"), ("2.6.32-358.2.1.el6.x86_64", "rhel6"),
    ("2.6.38", "3.10"), ("3.8.0-29-generic", "3.10"), ("3.10.0-1160.el7.x86_64", "rhel7"),
    ("3.10.4", "3.10"), ("3.18.18+40-ph", "3.10"), ("4.3.3-coreos-r2", "3.10"),
    ("4.4.155", "4.4"), ("4.9.24-coreos", "4.8"), ("4.12.0-rc3", "4.10"), ("4.13.16", "4.13"),
    ("4.14.78-bpi-r2-main", "4.14"), ("4.15.0-rc1", "4.15"), ("4.18.0-553.el8_10.x86_64", "4.18"),
    ("5.0.1", "4.18"), ("5.3.0-1021-raspi2", "5.1"), ("5.14.0-362.8.1.el9_3.x86_64", "5.14"),
    ("5.15.0-91-generic", "5.14"), ("5.18.7", "5.18"), ("6.1.43-android14", "5.18"),
    ("6.2-generic-64k", "5.18"), ("6.5.0-28-generic", "6.3"), ("6.12.0", "6.12"),
    ("6.14.2", "6.12"), ("6.19.0-rc5-00027-g40fd0acc45d0", "6.15"), ("7.1.0", "6.15"),
])
def test_era_for_release(release, era):
    assert era_for_release(KernelRelease.parse(release))[0].key == era


def test_printed_names_override_a_release_they_contradict():
    # A vendor 5.14 kernel whose GFP_HIGHUSER_MOVABLE lost the KASAN bit (as in 5.18+):
    # the data wins, and the answer says so.
    decoding = decode_gfp(0x100CCA, "5.14.0-427.el9.x86_64", "GFP_HIGHUSER_MOVABLE")
    assert decoding.names == "GFP_HIGHUSER_MOVABLE"
    assert decoding.era == "5.18"
    assert decoding.era_inferred is True
    assert "printed names" in decoding.era_reason


def test_printed_names_that_no_table_reproduces_are_reported():
    decoding = decode_gfp(0xC0C40, "6.19.0", "GFP_NOFS|__GFP_NOMEMALLOC|__GFP_COMP")
    assert decoding.printed_matches is False
    assert decoding.names == "GFP_NOFS|__GFP_COMP|__GFP_NOMEMALLOC"
    assert "no table reproduces" in decoding.era_reason


def test_printed_accepts_parentheses_and_empty_names():
    assert decode_gfp(0x820, "6.6.9", "(GFP_ATOMIC)").printed_matches is True
    zero = decode_gfp(0, "6.6.9", "")
    assert zero.names == ""
    assert zero.printed_matches is True
    assert zero.hex == "0x0"


@pytest.mark.parametrize(("mask", "era", "names"), [
    (0x20, "3.10", "GFP_ATOMIC"),  # kernel-facts: bare 0x20 is 2.6/3.x GFP_ATOMIC
    (0x4020, "3.10", "GFP_ATOMIC|__GFP_COMP"),
    (0xD0, "3.10", "GFP_KERNEL"),
    (0x204010, "3.10", "GFP_NOIO|__GFP_COMP|__GFP_NOTRACK"),
    (0x2080020, "4.8", "GFP_ATOMIC"),
    (0x480020, "4.18", "GFP_ATOMIC"),
    (0xA20, "5.18", "GFP_ATOMIC"),
    (0x820, "6.15", "GFP_ATOMIC"),
])
def test_bits_only_inference(mask, era, names):
    decoding = decode_gfp(mask)
    assert (decoding.era, decoding.names) == (era, names)
    assert decoding.era_inferred is True
    assert "bits alone" in decoding.era_reason
    assert infer_era_from_bits(mask)[0].key == era


def test_unparseable_release_falls_back_to_inference_and_says_so():
    decoding = decode_gfp(0x820, "unknown", "GFP_ATOMIC")
    assert decoding.era_inferred is True
    assert "not understood" in decoding.era_reason


# kernel-facts §3.4: share of min each mask may use, order 0, by era.
@pytest.mark.parametrize(("era", "mask", "context", "fraction"), [
    # 2.6.32 - 3.x: HARDER from "cannot sleep"
    ("2.6.32", 0x20, "process", Fraction(3, 8)),
    ("3.10", 0x20, "process", Fraction(3, 8)),
    ("rhel7", 0x20, "process", Fraction(3, 8)),
    ("3.10", 0x0, "process", Fraction(3, 4)),  # GFP_NOWAIT
    ("3.10", 0xD0, "process", Fraction(1)),  # GFP_KERNEL
    ("3.10", 0xD0, "rt_task", Fraction(3, 4)),
    ("3.10", 0xD0, "oom_victim", None),  # TIF_MEMDIE: no watermarks
    ("3.10", 0x20 | 0x2000, "process", None),  # __GFP_MEMALLOC
    ("3.10", 0x20 | 0x2000 | 0x10000, "process", Fraction(1, 2)),  # ... with NOMEMALLOC
    # 4.4 - 6.2: HARDER from __GFP_ATOMIC only
    ("4.8", 0x2080020, "process", Fraction(3, 8)),
    ("4.8", 0x2000000, "process", Fraction(1)),  # GFP_NOWAIT: no discount
    ("4.8", 0x2000000, "rt_task", Fraction(3, 4)),
    ("4.8", 0x24000C0, "rt_task", Fraction(3, 4)),
    ("4.8", 0x24000C0, "oom_victim", None),  # before 4.14: no watermarks
    ("4.14", 0x14000C0, "oom_victim", Fraction(1, 2)),  # ALLOC_OOM
    ("4.14", 0x1080020, "oom_victim", Fraction(1, 2)),  # reserve flags replace HIGH
    ("4.18", 0x480020, "process", Fraction(3, 8)),
    ("5.18", 0xA20, "process", Fraction(3, 8)),
    ("5.18", 0x800, "process", Fraction(1)),
    ("5.18", 0xCC0, "process", Fraction(1)),
    ("5.18", 0xA20 | 0x80000, "process", Fraction(1, 2)),  # NOMEMALLOC: no HARDER
    # 6.3+: MIN_RESERVE / NON_BLOCK
    ("6.3", 0x820, "process", Fraction(3, 8)),
    ("6.15", 0x820, "process", Fraction(3, 8)),
    ("6.3", 0x800, "process", Fraction(1)),  # NON_BLOCK alone: no discount
    ("6.12", 0x2800, "process", Fraction(1)),
    ("6.3", 0xCC0, "rt_task", Fraction(1, 2)),
    ("6.3", 0xCC0, "oom_victim", Fraction(1, 2)),
    ("6.3", 0xCC0 | 0x20000, "process", None),  # __GFP_MEMALLOC
])
def test_reserve_fraction_by_era(era, mask, context, fraction):
    flags = alloc_flags_for(mask, era, context)
    assert min_fraction(flags, era) == fraction


def test_alloc_flags_of_gfp_atomic_in_each_era():
    assert alloc_flag_names(alloc_flags_for(0x20, "2.6.32"), "2.6.32") == ["HARDER", "HIGH"]
    assert alloc_flag_names(alloc_flags_for(0x2080020, "4.8"), "4.8") == ["HARDER", "HIGH"]
    assert alloc_flag_names(alloc_flags_for(0xA20, "5.18"), "5.18") == ["HARDER", "HIGH", "KSWAPD"]
    assert alloc_flag_names(alloc_flags_for(0x820, "6.3"), "6.3") == [
        "NON_BLOCK", "MIN_RESERVE", "KSWAPD"]
    # GFP_KERNEL keeps the cpuset check; GFP_ATOMIC drops it
    assert alloc_flags_for(0xCC0, "6.3") & AllocFlags.CPUSET
    assert not alloc_flags_for(0x820, "6.3") & AllocFlags.CPUSET
    # GFP_NOWAIT on 6.3+: NON_BLOCK, cpuset kept (dropped only with MIN_RESERVE)
    assert alloc_flags_for(0x800, "6.3") & AllocFlags.CPUSET
    # ALLOC_KSWAPD from 5.0 (4.18 era covers 5.0 too)
    assert not alloc_flags_for(0x480020, "4.18") & AllocFlags.KSWAPD
    assert alloc_flags_for(0x480020, "4.18", release=KernelRelease.parse("5.0.1")) & AllocFlags.KSWAPD


def test_highatomic_for_high_order_nonblocking_requests():
    assert alloc_flags_for(0x820, "6.3", order=1) & AllocFlags.HIGHATOMIC
    assert not alloc_flags_for(0x820, "6.3", order=0) & AllocFlags.HIGHATOMIC
    # GFP_NOWAIT order 1: HIGHATOMIC until the 2025 fix (6.17 assumed)
    assert alloc_flags_for(0x800, "6.3", order=1) & AllocFlags.HIGHATOMIC
    assert not alloc_flags_for(0x800, "6.15", order=1) & AllocFlags.HIGHATOMIC
    assert alloc_flags_for(0x800, "6.15", order=1,
                           release=KernelRelease.parse("6.16.3")) & AllocFlags.HIGHATOMIC
    assert not alloc_flags_for(0x800, "6.15", order=1,
                               release=KernelRelease.parse("6.18.0")) & AllocFlags.HIGHATOMIC
    assert decode_gfp(0x800, "6.16.0", order=1).alloc_flags & AllocFlags.HIGHATOMIC


def test_sleep_and_kswapd_by_era():
    assert not decode_gfp(0x20, "3.10.0").can_sleep
    assert decode_gfp(0xD0, "3.10.0").can_sleep
    assert decode_gfp(0x20, "3.10.0").wakes_kswapd  # no __GFP_NO_KSWAPD
    thp = decode_gfp(0x4352DA, "3.10.0")
    assert thp.names == "GFP_TRANSHUGE"
    assert thp.can_sleep
    assert not thp.wakes_kswapd
    assert decode_gfp(0x2080020, "4.9.0").wakes_kswapd
    assert not decode_gfp(0x342CA, "4.9.0").wakes_kswapd  # GFP_TRANSHUGE_LIGHT
    assert not decode_gfp(0x820, "6.6.0").can_sleep
    assert decode_gfp(0xCC0, "6.6.0").can_sleep
    assert "__GFP_WAIT" in decode_gfp(0x20, "3.10.0").sleep_reason
    assert "__GFP_DIRECT_RECLAIM" in decode_gfp(0x820, "6.6.0").sleep_reason


def test_rhel7_treats_no_kswapd_masks_as_not_atomic():
    # RHEL7 and 3.16+: atomic = !(__GFP_WAIT | __GFP_NO_KSWAPD); 3.10 looks at __GFP_WAIT only
    mask = 0x400000 | 0x20000 | 0xC0  # NO_KSWAPD without WAIT
    assert alloc_flags_for(mask, "3.10") & AllocFlags.HARDER
    assert not alloc_flags_for(mask, "rhel7") & AllocFlags.HARDER
    assert not alloc_flags_for(mask, "3.10", release=KernelRelease.parse("3.18.0")) & AllocFlags.HARDER


def test_nomemalloc_blocks_harder_except_in_upstream_2_6_32():
    # RHEL6 2.6.32-642 gfp_to_alloc_flags() checks __GFP_NOMEMALLOC (read in source)
    mask = 0x20 | 0x10000
    assert alloc_flags_for(mask, "2.6.32") & AllocFlags.HARDER
    assert not alloc_flags_for(mask, "rhel6") & AllocFlags.HARDER
    assert not alloc_flags_for(mask, "3.10") & AllocFlags.HARDER


@pytest.mark.parametrize(("mask", "era", "zone"), [
    (0x820, "6.3", "Normal"), (0xC04, "6.3", "DMA32"), (0xCC1, "6.3", "DMA"),
    (0xCC2, "6.3", "HighMem"), (0x100CCA, "6.3", "Movable"), (0xCC8, "6.3", "Normal"),
    (0xCC5, "6.3", None), (0x200DA, "3.10", "Movable"), (0x21, "3.10", "DMA"),
])
def test_gfp_zone(mask, era, zone):
    assert gfp_zone(mask, era) == zone


def test_zones_list_every_zone_up_to_the_highest():
    assert decode_gfp(0x820, "6.6").zones == ("DMA", "DMA32", "Normal")
    assert decode_gfp(0xC04, "6.6").zones == ("DMA", "DMA32")
    assert decode_gfp(0x100CCA, "6.6").zones == ("DMA", "DMA32", "Normal", "HighMem", "Movable")
    assert decode_gfp(0xCC5, "6.6").zones == ()


def test_nowarn_comp_memalloc_fields():
    decoding = decode_gfp(0x2084320, "4.9.0")  # GFP_ATOMIC|__GFP_NOWARN|__GFP_COLD|__GFP_COMP
    assert decoding.nowarn
    assert decoding.comp
    assert not decoding.memalloc
    assert decode_gfp(0xC0C40, "6.19.0").nomemalloc
    assert decode_gfp(0x20820, "6.6.0").memalloc
    assert decode_gfp(0x820 | 0x40000000, "6.6.0").flags[-1] == "0x40000000"
    assert decode_gfp(0x820 | 0x40000000, "6.6.0").unknown_bits == 0x40000000


def test_other_contexts_listed_only_where_they_differ():
    atomic = decode_gfp(0xA20, "5.10.0")
    assert [c.context for c in atomic.other_contexts] == ["oom_victim"]  # rt: same HARDER
    kernel = decode_gfp(0xCC0, "5.10.0")
    assert [c.context for c in kernel.other_contexts] == ["rt_task", "oom_victim"]
    assert "3/4" in kernel.other_contexts[0].reserve_discount


def test_reserve_discount_words():
    assert "3/8 of the min watermark" in decode_gfp(0x20, "2.6.32").reserve_discount
    assert "no discount" in decode_gfp(0xCC0, "6.6").reserve_discount
    assert "ignores the watermarks" in decode_gfp(0x22820, "6.6").reserve_discount


def test_as_dict_keys_and_values():
    data = decode_gfp(0x2080020, "4.9.0-5-amd64", "GFP_ATOMIC").as_dict()
    assert data["mask"] == "0x2080020"
    assert data["decoded"] == "GFP_ATOMIC"
    assert data["alloc_flags"] == ["HARDER", "HIGH"]
    assert data["min_fraction"] == "3/8"
    assert data["zones"] == ["DMA", "DMA32", "Normal"]
    assert data["printed_matches"] is True
    assert data["era"] == "4.8"


@pytest.mark.parametrize(("text", "mask", "printed"), [
    ("0x20", 0x20, None), ("20", 0x20, None), ("0X2080020", 0x2080020, None),
    ("mode:0x820(GFP_ATOMIC)", 0x820, "GFP_ATOMIC"), (" gfp_mask=0x24280ca(GFP_HIGHUSER_MOVABLE|__GFP_ZERO), ", 0x24280CA, "GFP_HIGHUSER_MOVABLE|__GFP_ZERO"),
    ("gfp=0xa20(GFP_ATOMIC)", 0xA20, "GFP_ATOMIC"), ("0x0()", 0, ""), ("dec:32", 32, None),
    ("DEC:208", 0xD0, None), ("0d0", 0xD0, None),
    ("ffffffff", 0xFFFFFFFF, None), ("cc0", 0xCC0, None),
])
def test_split_mask_text(text, mask, printed):
    assert split_mask_text(text) == (mask, printed)
    assert parse_mask(text) == mask


@pytest.mark.parametrize("text", [
    "", "zz", "0x", "-1", "0x100000000", "dec:", "0x20(GFP_ATOMIC", "1e3.5", "0x20 0x40",
    "dec:12a", "dec:0x20", "dec:4294967296", "0x20)(", "x" * 10_000,
])
def test_parse_mask_rejects_bad_text_cleanly(text):
    with pytest.raises(ParseError) as info:
        parse_mask(text)
    assert isinstance(info.value, MinfreeError)
    assert "\n" not in str(info.value)
    assert len(str(info.value)) < 200


def test_decode_rejects_out_of_range_masks():
    for bad in (-1, 1 << 32, True):
        with pytest.raises(ValueError):
            decode_gfp(bad)
    with pytest.raises(ValueError):
        decode_gfp(0x20, order=-1)


def test_every_era_has_sources_and_valid_ranges():
    upstream = [era for era in ERAS if era.rhel is None]
    for previous, era in itertools.pairwise(upstream):
        assert previous.until == era.first, (previous.key, era.key)
    assert upstream[0].first is None
    assert upstream[-1].until is None
    assert all(era.sources for era in ERAS)


def test_era_reason_names_the_span_of_matching_tables():
    assert "5.1 to 6.14" in decode_gfp(0x40DC0, None, "GFP_KERNEL|__GFP_COMP|__GFP_ZERO").era_reason
    assert "6.3 and later" in decode_gfp(0x820, None, "GFP_ATOMIC").era_reason
    only = decode_gfp(0x1100CCA, None, "GFP_HIGHUSER_MOVABLE")
    assert only.era == "5.14"
    assert "only the 5.14 to 5.17 (and RHEL9) table" in only.era_reason
