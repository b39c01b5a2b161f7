"""Watermark and lowmem_reserve formulas, checked on hand-worked cases of every era.

The real-kernel oracles (live /proc/zoneinfo, the captured grid, fixture roots) are in
``test_watermarks_oracles.py``; here each expected number is worked out by hand from the
kernel source cited in ``minfree.kernel.watermarks``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minfree.kernel.release import KernelRelease
from minfree.kernel.watermarks import (
    FEATURES_6_6,
    LowmemReserveEra,
    WatermarkEra,
    WatermarkFeatures,
    calculate_totalreserve_pages,
    compute_lowmem_reserve,
    compute_watermarks,
    default_lowmem_reserve_ratio,
    detect_features,
    memory_taken_from_applications,
    parse_ratio_row,
    predict_host,
)
from minfree.model.zone import Zone


def zones_of(*spec: tuple[str, int], node: int = 0, managed: bool = True) -> list[Zone]:
    """Zones with only the sizes set (the formulas read nothing else)."""
    out = []
    for index, (name, size) in enumerate(spec):
        if managed:
            out.append(Zone(node, name, index, 0, 0, 0, 0, managed_pages=size, present_pages=size))
        else:
            out.append(Zone(node, name, index, 0, 0, 0, 0, present_pages=size))
    return out


FC_SNAPSHOT_1 = zones_of(
    ("DMA", 3840), ("DMA32", 772917), ("Normal", 131072), ("Movable", 0), ("Device", 0)
)
FC_SNAPSHOT_2 = zones_of(
    ("DMA", 3840), ("DMA32", 772917), ("Normal", 524288), ("Movable", 0), ("Device", 0)
)


class TestKernelFactsReferenceTable:
    """kernel-facts §8: both snapshots of the 6.18 host, every value."""

    def test_snapshot_1(self) -> None:
        got = compute_watermarks(FC_SNAPSHOT_1, 67584, 10, features=FEATURES_6_6)
        table = [(w.min_pages, w.low_pages, w.high_pages, w.promo_pages) for w in got]
        assert table == [
            (71, 88, 105, 122),
            (14385, 17981, 21577, 25173),
            (2439, 3048, 3657, 4266),
            (32, 32, 32, 32),
            (0, 0, 0, 0),
        ]
        assert [w.protection_pages for w in got] == [
            (0, 3019, 3531, 3531, 3531),
            (0, 0, 512, 512, 512),
            (0, 0, 0, 0, 0),
            (0, 0, 0, 0, 0),
            (0, 0, 0, 0, 0),
        ]
        # "The sum of MIN over zones = 16895 pages" (+32 for the empty Movable zone).
        assert sum(w.min_pages for w in got[:3]) == 16895

    def test_snapshot_2(self) -> None:
        got = compute_watermarks(FC_SNAPSHOT_2, 67584, 10, features=FEATURES_6_6)
        assert [(w.min_pages, w.low_pages, w.high_pages, w.promo_pages) for w in got[:3]] == [
            (49, 61, 73, 85),
            (10037, 12546, 15055, 17564),
            (6808, 8510, 10212, 11914),
        ]
        assert got[0].protection_pages == (0, 3019, 5067, 5067, 5067)
        assert got[1].protection_pages == (0, 0, 2048, 2048, 2048)

    def test_worked_dma32_example(self) -> None:
        # tmp = 16896*772917/907829 = 14385; d = max(3596, 772) = 3596.
        got = compute_watermarks(FC_SNAPSHOT_1, 67584, 10, features=FEATURES_6_6)[1]
        assert got.share_pages == 14385
        assert got.low_pages - got.min_pages == 3596


class TestEras:
    def test_quarter_era_pre_4_6(self) -> None:
        # 4.1 ZTE router (fixture root): one Normal zone, min_free_kbytes 1227 -> 306 pages.
        features = WatermarkFeatures(
            era=WatermarkEra.QUARTER, lowmem_reserve=LowmemReserveEra.FORCE_ONE
        )
        (w,) = compute_watermarks(zones_of(("Normal", 23603)), 1227, features=features)
        assert (w.min_pages, w.low_pages, w.high_pages, w.promo_pages) == (306, 382, 459, None)

    def test_scale_factor_dominates_on_big_zones(self) -> None:
        # d = max(tmp/4, managed*wsf/10000): with wsf 200 on 772917 pages d = 15458.
        features = WatermarkFeatures(era=WatermarkEra.SCALE_FACTOR)
        got = compute_watermarks(FC_SNAPSHOT_1, 67584, 200, features=features)[1]
        assert got.low_pages - got.min_pages == 772917 * 200 // 10000 == 15458
        assert got.high_pages - got.low_pages == 15458
        assert got.promo_pages is None

    def test_highmem_clamp_and_share(self) -> None:
        # Android 3.4.5 fixture: Normal 121412 + HighMem 129238 present pages, 2784 kB.
        features = WatermarkFeatures(
            era=WatermarkEra.QUARTER, uses_managed=False, lowmem_reserve=LowmemReserveEra.FORCE_ONE
        )
        zones = zones_of(("Normal", 121412), ("HighMem", 129238), managed=False)
        normal, high = compute_watermarks(zones, 2784, features=features)
        assert (normal.min_pages, normal.low_pages, normal.high_pages) == (696, 870, 1044)
        # MIN = clamp(129238/1024 = 126, 32, 128); tmp = 696*129238/121412 = 740.
        assert (high.min_pages, high.low_pages, high.high_pages) == (126, 311, 496)
        assert normal.protection_pages == (0, 129238 // 32)

    def test_highmem_clamp_bounds(self) -> None:
        features = WatermarkFeatures(era=WatermarkEra.SCALE_FACTOR)
        tiny = compute_watermarks(
            zones_of(("Normal", 1000), ("HighMem", 1000)), 4000, features=features
        )
        huge = compute_watermarks(
            zones_of(("Normal", 1000), ("HighMem", 10**7)), 4000, features=features
        )
        assert tiny[1].min_pages == 32
        assert huge[1].min_pages == 128

    def test_movable_before_6_6_is_lowmem(self) -> None:
        # Before 6.6 a non-empty x86_64 Movable zone takes its proportional share.
        zones = zones_of(("DMA32", 100000), ("Normal", 300000), ("Movable", 100000))
        old = WatermarkFeatures(era=WatermarkEra.PROMO, movable_like_highmem=False)
        new = FEATURES_6_6
        old_w = compute_watermarks(zones, 8000, features=old)
        new_w = compute_watermarks(zones, 8000, features=new)
        assert old_w[2].min_pages == 2000 * 100000 // 500000
        assert new_w[2].min_pages == min(max(100000 // 1024, 32), 128) == 97
        # 6.6+ leaves Movable out of lowmem, so the others' shares grow.
        assert new_w[1].min_pages == 2000 * 300000 // 400000

    def test_empty_movable_shows_32_only_from_6_6(self) -> None:
        zones = FC_SNAPSHOT_1
        before = WatermarkFeatures(era=WatermarkEra.PROMO, movable_like_highmem=False)
        assert compute_watermarks(zones, 67584, features=before)[3].min_pages == 0
        assert compute_watermarks(zones, 67584, features=FEATURES_6_6)[3].min_pages == 32

    def test_rhel6_extra_free_kbytes(self) -> None:
        # RHEL6: LOW/HIGH += extra_pages * present / vm_total_pages.
        features = WatermarkFeatures(
            era=WatermarkEra.QUARTER,
            uses_managed=False,
            lowmem_reserve=LowmemReserveEra.FORCE_ONE,
            extra_free_kbytes=True,
        )
        zones = zones_of(("DMA", 4000), ("Normal", 996000), managed=False)
        dma, normal = compute_watermarks(zones, 4000, extra_free_kbytes=40000, features=features)
        # pages_min 1000, extra 10000 pages; Normal tmp 996, extra 9960.
        assert (normal.min_pages, normal.low_pages, normal.high_pages) == (
            996,
            996 + 9960 + 249,
            996 + 9960 + 498,
        )
        assert (dma.min_pages, dma.low_pages) == (4, 4 + 40 + 1)
        # Without the feature the sysctl is ignored.
        plain = compute_watermarks(
            zones,
            4000,
            extra_free_kbytes=40000,
            features=WatermarkFeatures(era=WatermarkEra.QUARTER, uses_managed=False),
        )
        assert plain[1].low_pages == 996 + 249

    def test_64k_pages(self) -> None:
        # pages_min = min_free_kbytes >> (16 - 10).
        (w,) = compute_watermarks(zones_of(("Normal", 100000)), 64000, page_size_bytes=65536)
        assert w.min_pages == 1000

    def test_boost_is_added_to_every_printed_mark(self) -> None:
        got = compute_watermarks(
            FC_SNAPSHOT_1, 67584, features=FEATURES_6_6, boost_pages={(0, "DMA32"): 512}
        )[1]
        assert (got.min_pages, got.low_pages, got.high_pages, got.promo_pages) == (
            14385 + 512,
            17981 + 512,
            21577 + 512,
            25173 + 512,
        )
        assert got.boost_pages == 512

    def test_numa_lowmem_is_machine_wide(self) -> None:
        zones = zones_of(("DMA32", 300000), ("Normal", 700000)) + zones_of(
            ("Normal", 1000000), node=1
        )
        zones[2] = Zone(1, "Normal", 2, 0, 0, 0, 0, managed_pages=1000000)
        got = compute_watermarks(zones, 80000, features=FEATURES_6_6)
        assert [w.min_pages for w in got] == [3000, 7000, 10000]

    def test_bad_values(self) -> None:
        with pytest.raises(ValueError):
            compute_watermarks(FC_SNAPSHOT_1, -1)
        with pytest.raises(ValueError):
            compute_watermarks(FC_SNAPSHOT_1, 1024, -5)
        with pytest.raises(ValueError):
            compute_watermarks(FC_SNAPSHOT_1, 1024, page_size_bytes=3000)


class TestLowmemReserveEras:
    ZONES = zones_of(("DMA", 4000), ("DMA32", 700000), ("Normal", 0), ("Movable", 51200))

    def _rows(self, era: LowmemReserveEra, ratios: tuple[int, ...]) -> list[tuple[int, ...]]:
        features = WatermarkFeatures(lowmem_reserve=era)
        rows = compute_lowmem_reserve(self.ZONES, ratios, features=features)
        return [rows[(0, z.name)] for z in self.ZONES]

    def test_6_1_clears_rows_of_empty_zones(self) -> None:
        rows = self._rows(LowmemReserveEra.CLEAR, (256, 256, 32, 0))
        assert rows[0] == (0, 700000 // 256, 700000 // 256, 751200 // 256)
        assert rows[1] == (0, 0, 0, 51200 // 256)
        assert rows[2] == (0, 0, 0, 0)  # Normal is empty: cleared although ratio is 32

    def test_4_19_ratio_zero_means_none_but_empty_zones_reserve(self) -> None:
        rows = self._rows(LowmemReserveEra.ZERO_MEANS_NONE, (256, 256, 32, 0))
        assert rows[2] == (0, 0, 0, 51200 // 32)  # empty Normal still gets a row
        assert rows[1] == (0, 0, 0, 51200 // 256)

    def test_before_4_19_ratio_zero_forced_to_one(self) -> None:
        rows = self._rows(LowmemReserveEra.FORCE_ONE, (256, 0, 32))
        assert rows[1] == (0, 0, 0, 51200)  # DMA32 ratio 0 -> 1: every upper page reserved

    def test_5_10_skips_ratio_zero_zone_in_the_running_sum(self) -> None:
        rows = self._rows(LowmemReserveEra.SKIP_EMPTY, (256, 0, 32, 0))
        # DMA32 (ratio 0) gets no reserve and its pages are not added for DMA's row.
        assert rows[1] == (0, 0, 0, 0)
        assert rows[0] == (0, 700000 // 256, 0, 51200 // 256)

    def test_defaults(self) -> None:
        names = ("DMA", "DMA32", "Normal", "Movable", "Device")
        assert default_lowmem_reserve_ratio(names) == (256, 256, 32, 0, 0)
        assert default_lowmem_reserve_ratio(
            ("Normal", "HighMem", "Movable"), LowmemReserveEra.FORCE_ONE
        ) == (32, 32, 0)
        assert parse_ratio_row("256\t256\t32\t0\t0") == (256, 256, 32, 0, 0)
        assert parse_ratio_row("x") is None


class TestTotalReserveAndChange:
    def test_totalreserve(self) -> None:
        got = compute_watermarks(FC_SNAPSHOT_1, 67584, features=FEATURES_6_6)
        # DMA: min(3840, 3531+105); DMA32: 512+21577; Normal: 3657; Movable: min(0, 32).
        assert calculate_totalreserve_pages(got) == 3636 + 22089 + 3657

    def test_change_takes_high_difference(self) -> None:
        before = compute_watermarks(FC_SNAPSHOT_1, 67584, features=FEATURES_6_6)
        after = compute_watermarks(FC_SNAPSHOT_1, 135168, features=FEATURES_6_6)
        change = memory_taken_from_applications(before, after)
        assert change.high_pages == sum(w.high_pages for w in after) - sum(
            w.high_pages for w in before
        )
        assert change.high_pages > 0
        assert (
            change.per_zone_high_pages[(0, "DMA32")] == after[1].high_pages - before[1].high_pages
        )
        assert change.as_dict()["high_kb"] == change.high_pages * 4


class TestDetectFeatures:
    def test_promo_line_means_current(self) -> None:
        from minfree.parsers.zoneinfo import parse_zoneinfo

        text = "Node 0, zone   Normal\n  pages free 5\n  boost 0\n  min 1\n  low 2\n  high 3\n  promo 4\n  managed 10\n  protection: (0)\n"
        f = detect_features(parse_zoneinfo(text).zones)
        assert f.era is WatermarkEra.PROMO
        assert f.movable_like_highmem
        assert f.uses_managed

    def test_sysctls_without_scale_factor_mean_pre_4_6(self) -> None:
        f = detect_features(zones_of(("Normal", 10)), sysctl={"vm.min_free_kbytes": "1024"})
        assert f.era is WatermarkEra.QUARTER

    def test_release_fallback(self) -> None:
        rel = KernelRelease.parse("5.4.0-99-generic")
        f = detect_features(zones_of(("Normal", 10)), release=rel)
        assert f.era is WatermarkEra.SCALE_FACTOR
        assert f.lowmem_reserve is LowmemReserveEra.ZERO_MEANS_NONE
        assert not f.movable_like_highmem
        rhel7 = detect_features(
            zones_of(("Normal", 10)), release=KernelRelease.parse("3.10.0-1160.el7.x86_64")
        )
        assert rhel7.era is WatermarkEra.QUARTER

    def test_empty_movable_min_reveals_6_6(self) -> None:
        zones = [
            Zone(0, "Normal", 0, 0, 1, 2, 3, managed_pages=10),
            Zone(0, "Movable", 1, 0, 0, 0, 0, managed_pages=0),
        ]
        assert not detect_features(zones).movable_like_highmem
        zones[1] = Zone(0, "Movable", 1, 0, 32, 32, 32, managed_pages=0)
        assert detect_features(zones).movable_like_highmem

    def test_extra_free_detected(self) -> None:
        f = detect_features(
            zones_of(("Normal", 10)),
            sysctl={"vm.extra_free_kbytes": "0", "vm.min_free_kbytes": "1"},
        )
        assert f.extra_free_kbytes
        assert "extra_free" in f.describe()

    def test_predict_host_needs_min_free(self) -> None:
        with pytest.raises(ValueError, match="min_free_kbytes"):
            predict_host(zones_of(("Normal", 10)), {})


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=10**8), min_size=1, max_size=5),
    mfk=st.integers(min_value=0, max_value=4 * 10**6),
    wsf=st.integers(min_value=1, max_value=3000),
)
def test_properties(sizes: list[int], mfk: int, wsf: int) -> None:
    """MIN shares sum to pages_min minus truncation; marks are ordered; more mfk, higher marks."""
    names = ["DMA", "DMA32", "Normal", "Movable", "Device"][: len(sizes)]
    zones = zones_of(*zip(names, sizes, strict=True))
    got = compute_watermarks(zones, mfk, wsf, features=FEATURES_6_6)
    lowmem = [w for w in got if w.zone not in ("Movable",)]
    if sum(w.size_pages for w in lowmem) > 0:
        total_min = sum(w.share_pages for w in lowmem)
        assert mfk // 4 - len(lowmem) < total_min <= mfk // 4
    for w in got:
        assert w.min_pages <= w.low_pages <= w.high_pages <= (w.promo_pages or 0)
    more = compute_watermarks(zones, mfk + 4096, wsf, features=FEATURES_6_6)
    assert all(b.high_pages >= a.high_pages for a, b in zip(got, more, strict=True))


@settings(max_examples=150, deadline=None)
@given(
    zones=st.lists(
        st.tuples(
            st.integers(0, 3),
            st.sampled_from(["DMA", "DMA32", "Normal", "HighMem", "Movable", "Device"]),
            st.one_of(st.none(), st.integers(0, 10**9)),
            st.integers(0, 10**6),
        ),
        min_size=1,
        max_size=12,
        unique_by=lambda t: (t[0], t[1]),
    ),
    mfk=st.one_of(st.none(), st.integers(0, 2**31 - 1)),
    wsf=st.one_of(st.none(), st.integers(1, 3000)),
    ratio=st.one_of(st.none(), st.text(max_size=20)),
)
def test_any_zone_set_gives_an_answer_or_a_value_error(zones, mfk, wsf, ratio) -> None:
    """Odd captures (no managed line, empty nodes, junk ratio rows) never crash the model."""
    from minfree.kernel.watermarks import (
        compare_settings,
        implied_min_free_kbytes,
        min_share_shortfall_pages,
    )

    order = ["DMA", "DMA32", "Normal", "HighMem", "Movable", "Device"]
    built = [
        Zone(
            node,
            name,
            order.index(name),
            0,
            mark,
            mark,
            mark,
            managed_pages=managed,
            present_pages=managed,
        )
        for node, name, managed, mark in zones
    ]
    sysctl = {}
    if mfk is not None:
        sysctl["vm.min_free_kbytes"] = str(mfk)
    if wsf is not None:
        sysctl["vm.watermark_scale_factor"] = str(wsf)
    if ratio is not None:
        sysctl["vm.lowmem_reserve_ratio"] = ratio
    try:
        comparison = compare_settings(built, sysctl, min_free_kbytes=mfk)
    except ValueError:
        return
    assert len(comparison.proposed) == len(built)
    implied_min_free_kbytes(built, features=comparison.features)
    assert min_share_shortfall_pages(built, comparison.min_free_kbytes) >= 0


def test_rhel9_boost_line_does_not_mean_6_1() -> None:
    """CentOS Stream 9 (5.14.0-325) prints "boost" (backport); the release decides."""
    from conftest import FIXTURES
    from minfree.parsers.zoneinfo import parse_zoneinfo

    root = FIXTURES / "roots" / "centos-stream9-5.14.0-325"
    zones = parse_zoneinfo((root / "proc/zoneinfo").read_text()).zones
    assert any(z.boost_pages is not None for z in zones)
    release = KernelRelease.parse((root / "proc/sys/kernel/osrelease").read_text())
    features = detect_features(zones, release=release)
    assert features.era is WatermarkEra.SCALE_FACTOR
    assert features.lowmem_reserve is LowmemReserveEra.SKIP_EMPTY
    assert detect_features(zones).era is WatermarkEra.PROMO  # without the release: 6.1+
