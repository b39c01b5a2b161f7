"""Fragmentation indices against the running kernel's debugfs ``extfrag`` files, plus
hand-worked values from mm/vmstat.c's formulas and real buddyinfo fixtures."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import FIXTURES
from minfree.kernel.fragmentation import (
    compaction_suitable_by_index,
    contig_page_info,
    extfrag_for_order,
    format_index,
    fragmentation_index,
    free_pages_at_or_above,
    highest_free_order,
    unusable_free_index,
    zone_fragmentation,
)
from minfree.parsers.buddyinfo import parse_buddyinfo

DEBUGFS = Path("/sys/kernel/debug")
EXTFRAG = DEBUGFS / "extfrag"


class TestHandWorked:
    def test_contig_info(self) -> None:
        info = contig_page_info((4, 2, 1), 1)
        assert (info.free_pages, info.free_blocks_total, info.free_blocks_suitable) == (12, 7, 4)

    def test_unusable(self) -> None:
        # 12 free pages, 4 order-1 units of which 8 pages usable: (12-8)*1000/12 = 333.
        assert unusable_free_index((4, 2, 1), 1) == 333
        assert unusable_free_index((4, 2, 1), 0) == 0
        assert unusable_free_index((0, 0, 0), 0) == 1000
        assert unusable_free_index((4, 2, 1), 3) == 1000

    def test_fragmentation(self) -> None:
        # order 3, 12 pages in 7 blocks: 1000 - (1000 + 12*1000/8)/7 = 1000 - 2500/7 = 643.
        assert fragmentation_index((4, 2, 1), 3) == 643
        assert fragmentation_index((4, 2, 1), 2) == -1000
        assert fragmentation_index((0, 0, 0), 2) == 0

    def test_printing_like_debugfs(self) -> None:
        assert format_index(-1000, width=2) == "-1.000"
        assert format_index(643, width=2) == " 0.643"
        assert format_index(1000) == "1.000"
        assert format_index(66) == "0.066"

    def test_helpers(self) -> None:
        assert highest_free_order((1, 0, 2, 0)) == 2
        assert highest_free_order((0, 0)) == -1
        assert free_pages_at_or_above((4, 2, 1), 1) == 8
        assert extfrag_for_order((4, 2, 1), 1) == 33
        assert extfrag_for_order((0,), 0) == 0
        assert compaction_suitable_by_index((4, 2, 1), 2)  # costly-order rule
        assert not compaction_suitable_by_index((0, 0, 0, 2, 0), 4)  # lack of memory: index 0
        assert compaction_suitable_by_index((1000, 0, 0, 0, 0), 4)  # fragmentation: 937

    def test_bad_order(self) -> None:
        with pytest.raises(ValueError):
            contig_page_info((1,), -1)


class TestAgainstRealBuddyinfo:
    def test_memory_starved_router(self) -> None:
        # ZTE 4.1 router under pressure: no order >= 9 block.
        text = (FIXTURES / "roots/zte-router-armv7-4.1.25/proc/buddyinfo").read_text()
        buddy = parse_buddyinfo(text)
        counts = buddy.free_blocks(0, "Normal")
        assert counts is not None
        frag = zone_fragmentation(counts)
        assert frag.highest_free_order < 9
        top = frag.highest_free_order
        assert frag.fragmentation_index[top] == -1000
        for order in range(top + 1, len(counts)):
            assert frag.unusable_index[order] == 1000
            assert 0 <= frag.fragmentation_index[order] <= 1000
        assert frag.free_pages == sum(n << k for k, n in enumerate(counts))
        assert frag.as_dict()["unusable_index"][top + 1] == 1.0


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=14), st.integers(0, 13))
def test_index_ranges(blocks: list[int], order: int) -> None:
    unusable = unusable_free_index(blocks, order)
    frag = fragmentation_index(blocks, order)
    assert 0 <= unusable <= 1000
    # Not only -1000 can be negative: with few, large-ish blocks the kernel's formula dips
    # below 0 (blocks=[1], order 1 gives -500); it stays above -1000/free_blocks_total.
    assert frag == -1000 or -1000 < frag <= 1000
    if order == 0 and sum(blocks):
        assert unusable == 0


# -- the running kernel ----------------------------------------------------------------


@pytest.fixture(scope="module")
def extfrag_dir() -> Iterator[Path]:
    """debugfs ``extfrag``; mounted for the test when root and not yet mounted."""
    mounted_here = False
    if not EXTFRAG.exists():
        if os.geteuid() != 0 or not DEBUGFS.exists():
            pytest.skip("debugfs extfrag not available and cannot mount it (not root)")
        result = subprocess.run(
            ["mount", "-t", "debugfs", "debugfs", str(DEBUGFS)],
            capture_output=True,
            check=False,
        )
        if result.returncode != 0 or not EXTFRAG.exists():
            pytest.skip(f"cannot mount debugfs: {result.stderr.decode(errors='replace').strip()}")
        mounted_here = True
    try:
        yield EXTFRAG
    finally:
        if mounted_here:
            subprocess.run(["umount", str(DEBUGFS)], check=False)


def _rows(text: str) -> dict[tuple[int, str], list[str]]:
    rows: dict[tuple[int, str], list[str]] = {}
    for line in text.splitlines():
        head, _, rest = line.partition("zone")
        if not rest:
            continue
        node = int(head.replace("Node", "").strip().rstrip(","))
        parts = rest.split()
        rows[(node, parts[0])] = parts[1:]
    return rows


class TestAgainstRunningKernelDebugfs:
    """Oracle: /sys/kernel/debug/extfrag/{unusable_index,extfrag_index} of this kernel,
    compared with our indices from /proc/buddyinfo read just before and after (a zone is
    compared only when both buddyinfo reads agree, i.e. nothing moved in between)."""

    def test_indices_equal_kernel(self, extfrag_dir: Path) -> None:
        compared = 0
        for _attempt in range(20):
            before = parse_buddyinfo(Path("/proc/buddyinfo").read_text())
            unusable = _rows((extfrag_dir / "unusable_index").read_text())
            extfrag = _rows((extfrag_dir / "extfrag_index").read_text())
            after = parse_buddyinfo(Path("/proc/buddyinfo").read_text())
            for (node, name), printed in unusable.items():
                counts = before.free_blocks(node, name)
                if counts is None or counts != after.free_blocks(node, name):
                    continue
                ours = [format_index(unusable_free_index(counts, o)) for o in range(len(counts))]
                assert ours == printed, (node, name)
                ours_frag = [
                    format_index(fragmentation_index(counts, o), width=2).strip()
                    for o in range(len(counts))
                ]
                assert ours_frag == extfrag[(node, name)], (node, name)
                compared += 1
            if compared >= 2:
                break
        assert compared >= 1, "buddyinfo never stayed still between reads"
