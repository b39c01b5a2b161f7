"""zoneinfo, buddyinfo and pagetypeinfo parsers on every real file in the fixtures.

Oracles: the files themselves (values read by eye and pinned below), the kernel's own
invariants (min <= low <= high <= promo, ``nr_free_pages`` equals ``pages free``, a zone's
protection entry for itself is 0), and the buddy lists of the same capture.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import FIXTURES
from minfree.errors import ParseError
from minfree.parsers.buddyinfo import parse_buddyinfo
from minfree.parsers.pagetypeinfo import parse_pagetypeinfo
from minfree.parsers.zoneinfo import parse_zoneinfo, parse_zones


def _files(pattern: str) -> list[Path]:
    return sorted(p for p in FIXTURES.glob(f"**/{pattern}") if p.is_file())


ZONEINFO_FILES = _files("zoneinfo*")
BUDDYINFO_FILES = _files("buddyinfo")
PAGETYPEINFO_FILES = _files("pagetypeinfo")


def _id(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


def test_fixture_globs_find_the_real_files() -> None:
    # Guards the parametrisation below: an empty glob would make every test vacuous.
    assert len(ZONEINFO_FILES) >= 30
    assert len(BUDDYINFO_FILES) >= 15
    assert len(PAGETYPEINFO_FILES) >= 10


@pytest.mark.parametrize("path", ZONEINFO_FILES, ids=_id)
class TestZoneinfoEveryFixture:
    def test_invariants(self, path: Path) -> None:
        zi = parse_zoneinfo(path.read_text(), source=str(path))
        assert zi.zones, "every zoneinfo has zones"
        text = path.read_text()
        assert len(zi.zones) == text.count("\nNode ") + text.startswith("Node ")
        for z in zi.zones:
            assert 0 <= z.min_pages <= z.low_pages <= z.high_pages
            if z.promo_pages is not None:
                assert z.high_pages <= z.promo_pages
            if z.managed_pages is not None and z.present_pages is not None:
                assert z.managed_pages <= z.present_pages <= (z.spanned_pages or 0)
            if z.protection_pages:
                # lowmem_reserve[own index] is always 0 and the row covers every zone index.
                assert len(z.protection_pages) > z.index
                assert z.protection_pages[z.index] == 0
            if "nr_free_pages" in z.counters:
                assert z.counters["nr_free_pages"] == z.free_pages
            if z.populated and z.pagesets:
                assert all(p.batch is not None and p.count is not None for p in z.pagesets)
        # zone indices increase within a node, in file order
        for node in zi.nodes:
            idx = [z.index for z in zi.zones if z.node == node]
            assert idx == sorted(idx)
            assert len(set(idx)) == len(idx)

    def test_to_zones_keeps_every_zone(self, path: Path) -> None:
        zi = parse_zoneinfo(path.read_text(), source=str(path))
        zones = zi.to_zones()
        assert [(z.node, z.name, z.free_pages, z.min_pages) for z in zones] == [
            (z.node, z.name, z.free_pages, z.min_pages) for z in zi.zones
        ]
        assert all(z.free_blocks is None for z in zones)  # unknown without buddyinfo


class TestZoneinfoKnownValues:
    def test_firecracker_6_18_boost_promo_cma_high_min(self) -> None:
        zi = parse_zoneinfo((FIXTURES / "proc-captures/firecracker-6.18/zoneinfo").read_text())
        assert [z.name for z in zi.zones] == ["DMA", "DMA32", "Normal", "Movable", "Device"]
        assert zi.has_boost
        assert zi.has_promo
        assert zi.has_managed
        assert zi.has_per_node_stats
        dma, dma32, normal, movable, device = zi.zones
        assert (dma.min_pages, dma.promo_pages, dma.managed_pages) == (49, 85, 3840)
        assert dma.protection_pages == (0, 3019, 5067, 5067, 5067)
        assert (dma32.min_pages, dma32.promo_pages, dma32.free_pages) == (10037, 17564, 772917)
        assert (normal.min_pages, normal.managed_pages) == (6808, 524288)
        assert (movable.min_pages, movable.low_pages, movable.high_pages) == (32, 32, 32)
        assert device.min_pages == 0
        assert not device.populated
        assert not device.pagesets
        assert dma.boost_pages == 0
        assert dma.cma_pages == 0
        assert dma.pagesets[0].high_min == 30
        assert dma.pagesets[0].high_max is not None
        assert "nr_free_pages_blocks" in dma.counters  # 6.18 addition
        assert zi.node_stats[0]["nr_kernel_stack"] > 0
        assert normal.extra["node_unreclaimable"] == "0"
        assert dma.start_pfn == 1

    def test_2_6_16_oldest_format(self) -> None:
        text = (FIXTURES / "roots/embedded-arm720t-2.6.16/proc/zoneinfo").read_text()
        (z,) = parse_zoneinfo(text).zones
        assert (z.name, z.free_pages, z.min_pages, z.low_pages, z.high_pages) == (
            "DMA",
            5410,
            181,
            226,
            271,
        )
        assert z.managed_pages is None
        assert z.boost_pages is None
        assert z.promo_pages is None
        assert z.extra["active"] == "367"
        assert z.extra["scanned"] == "0 (a: 0 i: 0)"
        assert z.extra["temp_priority"] == "12"
        # two per-cpu lists (hot/cold) per CPU in 2.6.x
        assert [(p.cpu, p.pcp, p.high) for p in z.pagesets] == [(0, 0, 6), (0, 1, 2)]
        assert z.protection_pages == (0, 0, 0, 0)
        assert z.counters == {}  # no per-zone counters in 2.6.16
        assert z.start_pfn == 196608

    def test_3_2_counters_before_protection_and_thresholds(self) -> None:
        text = (FIXTURES / "roots/ubuntu-3.2.0-58-generic/proc/zoneinfo").read_text()
        zi = parse_zoneinfo(text)
        dma = zi.zones[0]
        assert dma.protection_pages == (0, 3237, 7994, 7994)
        assert dma.counters["numa_hit"] == 1
        assert dma.managed_pages is None
        assert dma.stat_threshold_pages == 8
        assert len(dma.pagesets) == 8
        assert dma.extra["inactive_ratio"] == "1"
        assert not zi.has_per_node_stats

    def test_two_nodes_old_kernel_skips_empty_zones(self) -> None:
        text = (FIXTURES / "roots/pcp-meminfo-root-002-numa2/proc/zoneinfo").read_text()
        zi = parse_zoneinfo(text)
        assert [(z.node, z.name, z.index) for z in zi.zones] == [
            (0, "DMA", 0),
            (0, "DMA32", 1),
            (0, "Normal", 2),
            (1, "Normal", 2),  # index from the node-0 order, not position 0
        ]
        n1 = zi.zone(1, "Normal")
        assert n1 is not None
        assert (n1.free_pages, n1.min_pages, n1.high_pages) == (
            11093906,
            11288,
            16932,
        )
        assert zi.nodes == (0, 1)

    def test_two_nodes_new_kernel_prints_empty_zones_and_second_node_stats(self) -> None:
        text = (FIXTURES / "roots/pcp-meminfo-root-007-numa2/proc/zoneinfo").read_text()
        zi = parse_zoneinfo(text)
        assert len(zi.zones) == 10
        assert zi.prints_empty_zones
        assert set(zi.node_stats) == {0, 1}
        n1dma = zi.zone(1, "DMA")
        assert n1dma is not None
        assert not n1dma.populated
        assert n1dma.cma_pages == 0
        assert zi.zone(1, "Normal").index == 2  # type: ignore[union-attr]

    def test_32bit_highmem_indices(self) -> None:
        text = (FIXTURES / "roots/android-armv7-3.4.5/proc/zoneinfo").read_text()
        zi = parse_zoneinfo(text)
        assert [(z.name, z.index, z.min_pages) for z in zi.zones] == [
            ("Normal", 0, 696),
            ("HighMem", 1, 126),
        ]
        assert zi.zones[0].protection_pages == (0, 4038, 4038)

    def test_rhel8_unnamed_node_counter_is_kept(self) -> None:
        text = (FIXTURES / "roots/coreos-rhel8-4.18.0-80.11.2/proc/zoneinfo").read_text()
        zi = parse_zoneinfo(text)
        assert 537792 in zi.node_stats[0].values()
        assert zi.node_stats[0]["nr_written"] == 260861

    def test_live_host_parses(self) -> None:
        live = Path("/proc/zoneinfo")
        if not live.exists():
            pytest.skip("no /proc/zoneinfo on this machine")
        zi = parse_zoneinfo(live.read_text())
        assert any(z.populated for z in zi.zones)


class TestZoneinfoBadInput:
    GOOD = "Node 0, zone   Normal\n  pages free 10\n  min 1\n  low 2\n  high 3\n"

    def test_truncated_mid_zone_names_the_zone_line(self) -> None:
        with pytest.raises(ParseError, match=r"zi:1: zone Normal of node 0 has no 'high'"):
            parse_zoneinfo("Node 0, zone   Normal\n  pages free 10\n  min 1\n  low 2\n", "zi")

    def test_garbage_line_names_file_and_line(self) -> None:
        with pytest.raises(ParseError, match=r"zi:3: min: expected an integer"):
            parse_zoneinfo("Node 0, zone   Normal\n  pages free 10\n  min x\n", "zi")

    def test_text_before_first_zone(self) -> None:
        with pytest.raises(ParseError, match=r"zi:1: expected 'Node N, zone NAME'"):
            parse_zoneinfo("hello\n" + self.GOOD, "zi")

    @pytest.mark.parametrize("text", ["", "   \n\n"])
    def test_empty(self, text: str) -> None:
        with pytest.raises(ParseError, match="empty"):
            parse_zoneinfo(text)

    def test_duplicate_zone(self) -> None:
        with pytest.raises(ParseError, match="listed twice"):
            parse_zoneinfo(self.GOOD + self.GOOD)

    def test_unknown_counter_is_kept_and_no_trailing_newline(self) -> None:
        zi = parse_zoneinfo(self.GOOD + "  nr_from_the_future 42")
        assert zi.zones[0].counters["nr_from_the_future"] == 42

    def test_unicode_digits_rejected(self) -> None:
        with pytest.raises(ParseError):
            parse_zoneinfo("Node 0, zone   Normal\n  pages free ٣\n  min 1\n  low 2\n  high 3\n")


@pytest.mark.parametrize("path", BUDDYINFO_FILES, ids=_id)
def test_buddyinfo_every_fixture(path: Path) -> None:
    text = path.read_text()
    b = parse_buddyinfo(text, source=str(path))
    assert len(b.zones) == sum(1 for line in text.splitlines() if line.strip())
    assert b.orders in (11, 12)  # MAX_ORDER 11 columns (x86_64, ARM); 12 on some configs
    assert all(len(z.free_blocks) == b.orders for z in b.zones)
    assert all(z.free_pages >= 0 for z in b.zones)


# pcp-meminfo-root-001's buddyinfo comes from another capture (see its README).
_SAME_CAPTURE = [
    p.parent
    for p in BUDDYINFO_FILES
    if (p.parent / "zoneinfo").exists() and "pcp-meminfo-root-001" not in str(p)
    if "roots" in p.parts or "proc-captures" in p.parts
]


@pytest.mark.parametrize("directory", _SAME_CAPTURE, ids=_id)
def test_buddy_sums_match_zoneinfo_free_roughly(directory: Path) -> None:
    """Same capture, read a moment apart: free pages agree within 25 % (README: up to ~21 %)."""
    zones = parse_zones(
        (directory / "zoneinfo").read_text(),
        (directory / "buddyinfo").read_text(),
        (directory / "pagetypeinfo").read_text() if (directory / "pagetypeinfo").exists() else None,
    )
    checked = 0
    for z in zones:
        if z.free_blocks is None:
            assert not z.populated
            continue
        buddy_free = sum(n << k for k, n in enumerate(z.free_blocks))
        assert abs(buddy_free - z.free_pages) <= 0.25 * z.free_pages + 8
        checked += 1
    assert checked >= 1


def test_buddyinfo_node_exporter_keeps_trailing_spaces() -> None:
    b = parse_buddyinfo((FIXTURES / "proc-files/node_exporter/proc/buddyinfo").read_text())
    assert b.free_blocks(0, "Normal") == (4381, 1093, 185, 1530, 567, 102, 4, 0, 0, 0, 0)
    assert b.free_blocks(1, "Normal") is None


@pytest.mark.parametrize(
    "text",
    [
        "Node 0, zone Normal\n",
        "Node 0, zone Normal 1 2 x\n",
        "Zone 0 Normal 1 2\n",
        "Node 0, zone Normal 1 -2\n",
    ],
)
def test_buddyinfo_malformed(text: str) -> None:
    with pytest.raises(ParseError, match=r"bi:1:"):
        parse_buddyinfo(text, source="bi")


@pytest.mark.parametrize("path", PAGETYPEINFO_FILES, ids=_id)
def test_pagetypeinfo_every_fixture(path: Path) -> None:
    p = parse_pagetypeinfo(path.read_text(), source=str(path))
    assert p.pageblock_order in (9, 10)
    assert p.pages_per_block == 1 << p.pageblock_order
    assert p.free_blocks_by_type, "every fixture has free counts"
    for key, rows in p.free_blocks_by_type.items():
        assert "Movable" in rows
        assert "Unmovable" in rows
        assert key in p.block_counts
        # every populated zone holds at least one pageblock
        assert sum(p.block_counts[key].values()) > 0


def test_pagetypeinfo_capped_count_marks_order() -> None:
    path = FIXTURES / "proc-files/elastic-beats/pageinfo-testdata/pagetypeinfo"
    p = parse_pagetypeinfo(path.read_text())
    assert p.capped_orders == {(0, "Normal"): frozenset({1})}
    assert p.free_blocks_by_type[(0, "Normal")]["Movable"][:3] == (10, 100000, 70473)
    assert p.any_capped
    assert p.block_counts[(0, "Normal")] == {
        "Unmovable": 841,
        "Movable": 29689,
        "Reclaimable": 702,
        "HighAtomic": 0,
        "Isolate": 0,
    }


def test_pagetypeinfo_3x_column_order_and_reserve() -> None:
    path = FIXTURES / "roots/ubuntu-3.2.0-58-generic/proc/pagetypeinfo"
    p = parse_pagetypeinfo(path.read_text())
    assert list(p.block_counts[(0, "Normal")]) == [
        "Unmovable",
        "Reclaimable",
        "Movable",
        "Reserve",
        "Isolate",
    ]
    assert p.block_counts[(0, "Normal")]["Movable"] == 2026
    assert p.free_blocks_by_type[(0, "Normal")]["Reserve"][10] == 1


def test_pagetypeinfo_malformed() -> None:
    with pytest.raises(ParseError, match=r"pt:3:"):
        parse_pagetypeinfo(
            "Page block order: 9\nNumber of blocks type  Unmovable Movable\nNode 0, zone DMA 1\n",
            source="pt",
        )
    with pytest.raises(ParseError, match=r"pt:1:"):
        parse_pagetypeinfo("Page block order: nine\n", source="pt")


class TestZonesMerged:
    def test_firecracker_all_three_files(self) -> None:
        base = FIXTURES / "proc-captures/firecracker-6.18"
        zones = parse_zones(
            (base / "zoneinfo").read_text(),
            (base / "buddyinfo").read_text(),
            (base / "pagetypeinfo").read_text(),
        )
        normal = next(z for z in zones if z.name == "Normal")
        assert normal.index == 2
        assert normal.min_pages == 6808
        assert normal.free_blocks is not None
        assert normal.free_blocks[10] == 148
        assert normal.free_blocks_by_migratetype is not None
        assert normal.free_blocks_by_migratetype["Movable"][0] == 1098
        assert normal.capped_orders == frozenset()
        assert normal.stat_threshold_pages == 24
        assert normal.free_highatomic_pages == 0
        assert normal.reserved_highatomic_pages == 0
        movable = next(z for z in zones if z.name == "Movable")
        assert movable.free_blocks is None
        assert not movable.populated

    def test_pagetypeinfo_only_sums_types_and_highatomic_reserve(self) -> None:
        base = FIXTURES / "roots/hotsos-kubernetes-5.4.0-99/proc"
        zones = parse_zones(
            (base / "zoneinfo").read_text(), None, (base / "pagetypeinfo").read_text()
        )
        ptype = parse_pagetypeinfo((base / "pagetypeinfo").read_text())
        for z in zones:
            if not z.populated:
                continue
            assert z.free_blocks == ptype.total_free_blocks(z.node, z.name)
            blocks = ptype.block_counts[(z.node, z.name)]
            assert z.reserved_highatomic_pages == blocks["HighAtomic"] * 512

    def test_capped_pagetypeinfo_without_buddyinfo_leaves_free_blocks_unknown(self) -> None:
        zoneinfo = (
            "Node 0, zone   Normal\n  pages free 400000\n  min 1\n  low 2\n  high 3\n"
            "  protection: (0, 0)\n"
        )
        ptype = (
            "Page block order: 9\nPages per block:  512\n\n"
            "Free pages count per migrate type at order       0      1\n"
            "Node    0, zone   Normal, type      Movable     10 >100000\n"
        )
        (z,) = parse_zones(zoneinfo, None, ptype)
        assert z.free_blocks is None
        assert z.capped_orders == frozenset({1})
        assert z.free_blocks_by_migratetype == {"Movable": (10, 100000)}


@pytest.mark.skipif(
    not (Path("/proc/pagetypeinfo").exists() and os.access("/proc/pagetypeinfo", os.R_OK)),
    reason="/proc/pagetypeinfo missing or root-only (mode 0400 since 5.10)",
)
def test_live_pagetypeinfo_sums_match_buddyinfo() -> None:
    """Oracle: the running kernel; both files walk the same free lists a moment apart."""
    buddy = parse_buddyinfo(Path("/proc/buddyinfo").read_text())
    ptype = parse_pagetypeinfo(Path("/proc/pagetypeinfo").read_text())
    for z in buddy.zones:
        totals = ptype.total_free_blocks(z.node, z.name)
        assert totals is not None
        pages_buddy = z.free_pages
        pages_types = sum(n << k for k, n in enumerate(totals))
        assert abs(pages_buddy - pages_types) <= 0.02 * pages_buddy + 1024
