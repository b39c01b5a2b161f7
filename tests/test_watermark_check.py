"""The watermark check of each era: kernel-facts §3.4 worked examples, hand-checked cases per
era (order loops, migratetypes, highatomic, CMA, boost exception), and the numba-compiled
core agreeing with the Python call on random inputs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minfree.kernel.alloc_flags import AllocFlags, WatermarkLevel
from minfree.kernel.release import KernelRelease
from minfree.kernel.watermark_check import (
    MIGRATETYPE_COLUMNS,
    CheckEra,
    check_era_for,
    effective_min_fraction,
    watermark_ok_core,
    zone_watermark_ok,
)
from minfree.model.zone import Zone

HIGH = AllocFlags.HIGH
HARDER = AllocFlags.HARDER
MIN_RESERVE = AllocFlags.MIN_RESERVE
NON_BLOCK = AllocFlags.NON_BLOCK
ATOMIC_OLD = HIGH | HARDER  # GFP_ATOMIC before 6.3: __GFP_HIGH + (__GFP_ATOMIC | !__GFP_WAIT)
ATOMIC_NEW = MIN_RESERVE | NON_BLOCK  # GFP_ATOMIC 6.3+


def zone(
    free: int,
    mark: int = 14385,
    *,
    blocks: tuple[int, ...] | None = None,
    by_type: dict[str, tuple[int, ...]] | None = None,
    protection: tuple[int, ...] = (0, 0, 0, 0, 0),
    boost: int = 0,
    **extra: int,
) -> Zone:
    return Zone(
        node=0,
        name="DMA32",
        index=1,
        free_pages=free,
        min_pages=mark + boost,
        low_pages=mark + mark // 4 + boost,
        high_pages=mark + mark // 2 + boost,
        boost_pages=boost,
        protection_pages=protection,
        free_blocks=blocks,
        free_blocks_by_migratetype=by_type,
        **extra,
    )


def check(z: Zone, flags: int, era: CheckEra, order: int = 0, **kw: object):
    return zone_watermark_ok(z, order, WatermarkLevel.MIN, 2, flags, era, **kw)


class TestKernelFactsWorkedExamples:
    """§3.4: the effective fraction of ``mark`` for common masks, and the worked check."""

    M = 14385
    M1 = M - M // 2  # 7193
    M2 = M1 - M1 // 4  # 5395

    def test_worked_check_gfp_atomic(self) -> None:
        # "GFP_ATOMIC on a zone with min = 14385 passes order 0 if free - unusable > 5395
        # + protection[idx]"
        for era, flags in (
            (CheckEra.A, ATOMIC_OLD),
            (CheckEra.B, ATOMIC_OLD),
            (CheckEra.C, ATOMIC_NEW),
        ):
            assert check(zone(5396), flags, era).passed
            result = check(zone(5395), flags, era)
            assert not result.passed
            assert result.failed_by == "watermark"
            assert result.effective_min_pages == self.M2 == 5395
        with_protection = zone(5395 + 512, protection=(0, 0, 512, 512, 512))
        assert not check(with_protection, ATOMIC_NEW, CheckEra.C).passed
        assert check(replace(with_protection, free_pages=5395 + 513), ATOMIC_NEW, CheckEra.C).passed

    @pytest.mark.parametrize(
        ("era", "flags", "expected"),
        [
            # GFP_ATOMIC: m2 in every era
            (CheckEra.A, ATOMIC_OLD, M2),
            (CheckEra.B, ATOMIC_OLD, M2),
            (CheckEra.C, ATOMIC_NEW, M2),
            # GFP_NOWAIT: <=3.x HARDER (no __GFP_WAIT): m - m/4; 4.4-6.2: m; 6.3+ NON_BLOCK: m
            (CheckEra.A, HARDER, M - M // 4),
            (CheckEra.B, 0, M),
            (CheckEra.C, NON_BLOCK, M),
            # GFP_KERNEL: m everywhere
            (CheckEra.A, 0, M),
            (CheckEra.C, 0, M),
            # blocking rt task: HARDER (m - m/4) before 6.3, MIN_RESERVE (m1) after
            (CheckEra.B, HARDER, M - M // 4),
            (CheckEra.C, MIN_RESERVE, M1),
            # OOM victim 4.14+: ALLOC_OOM -> m - m/2
            (CheckEra.B, AllocFlags.OOM, M - M // 2),
            (CheckEra.C, AllocFlags.OOM, M - M // 2),
        ],
    )
    def test_fraction_table(self, era: CheckEra, flags: int, expected: int) -> None:
        assert effective_min_fraction(self.M, flags, era) == expected

    def test_no_watermarks_skips_the_check(self) -> None:
        result = check(zone(0), AllocFlags.NO_WATERMARKS, CheckEra.C)
        assert result.passed
        assert result.no_watermarks

    def test_nowait_highatomic_subtraction_differs_by_era(self) -> None:
        # 4.4-6.2: GFP_NOWAIT (no flags) has the highatomic reserve subtracted;
        # 6.3+: NON_BLOCK is in ALLOC_RESERVES, so it is not.
        z = zone(14385 + 600, reserved_highatomic_pages=1024)
        assert not check(z, 0, CheckEra.B).passed
        assert check(z, NON_BLOCK, CheckEra.C).passed
        assert not check(z, 0, CheckEra.C).passed


class TestEraA:
    def test_order_loop_removes_lower_orders(self) -> None:
        # free 1000, mark 100, order 2: 1000-3=997 > 100; -800 -> 197 > 50; -100 -> 97 > 25.
        z = zone(1000, 100, blocks=(800, 50, 10, 0, 0, 0, 0, 0, 0, 0, 0))
        assert check(z, 0, CheckEra.A, order=2).passed
        z2 = zone(1000, 100, blocks=(900, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        result = check(z2, 0, CheckEra.A, order=2)
        assert not result.passed
        assert result.failed_by == "order"

    def test_cma_only_in_first_test(self) -> None:
        z = zone(1000, 100, free_cma_pages=950)
        assert not check(z, 0, CheckEra.A).passed
        assert check(z, AllocFlags.CMA, CheckEra.A).passed

    def test_unknown_free_lists_check_order_zero_only(self) -> None:
        result = check(zone(1000, 100), 0, CheckEra.A, order=3)
        assert result.passed
        assert not result.order_checked


class TestEraOffByTwo:
    def test_two_pages_more_needed(self) -> None:
        # 2.6.37 .. 3.2: free -= (1<<0)+1, so 102 free against 100 fails; A passes it.
        assert not check(zone(102, 100), 0, CheckEra.A_OFF_BY_TWO).passed
        assert check(zone(103, 100), 0, CheckEra.A_OFF_BY_TWO).passed
        assert check(zone(102, 100), 0, CheckEra.A).passed

    def test_order_loop_halves_every_order(self) -> None:
        # Unlike RHEL6 the loop keeps the full mark and halves it at every order.
        z = zone(1000, 100, blocks=(800, 50, 10, 0, 0, 0, 0, 0, 0, 0, 0))
        assert check(z, 0, CheckEra.A_OFF_BY_TWO, order=2).passed
        tight = zone(1000, 100, blocks=(875, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        # A: 1000-3=997; -875=122 > 50; -100=22 <= 25: fails at order 1 either way.
        assert not check(tight, 0, CheckEra.A_OFF_BY_TWO, order=2).passed
        assert check(tight, 0, CheckEra.A_OFF_BY_TWO, order=2).failed_by == "order"


class TestEraRhel6:
    def test_off_by_two_and_min_restart(self) -> None:
        # free -= (1<<0)+1: 102 - 2 = 100 is not > 100.
        assert not check(zone(102, 100), 0, CheckEra.A_RHEL6).passed
        assert check(zone(103, 100), 0, CheckEra.A_RHEL6).passed

    def test_order_loop_from_mark_minus_min(self) -> None:
        # At WMARK_MIN the loop's min is mark - WMARK_MIN = 0: any leftover page passes.
        z = zone(1000, 100, blocks=(990, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0))
        assert check(z, 0, CheckEra.A_RHEL6, order=2).passed
        # Upstream A halves from the full mark and fails the same zone.
        assert not check(z, 0, CheckEra.A, order=2).passed
        # At LOW, loop min = low - min = 25, halved only for o < 9>>2 = 2.
        low = zone_watermark_ok(z, 2, WatermarkLevel.LOW, 2, 0, CheckEra.A_RHEL6)
        assert not low.passed
        assert low.failed_by == "order"


def _types(**rows: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    return dict(rows)


class TestEraB:
    EMPTY = (0,) * 11
    HIGH_ONLY = (0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0)

    def test_order_test_needs_pcp_type_block(self) -> None:
        by_type = _types(
            Unmovable=self.EMPTY,
            Movable=self.EMPTY,
            Reclaimable=self.EMPTY,
            HighAtomic=self.HIGH_ONLY,
        )
        z = zone(100000, 100, blocks=self.HIGH_ONLY, by_type=by_type, reserved_highatomic_pages=512)
        plain = check(z, 0, CheckEra.B, order=3)
        assert not plain.passed
        assert plain.failed_by == "order"
        assert check(z, ATOMIC_OLD, CheckEra.B, order=3).passed  # harder may use HighAtomic

    def test_cma_block_needs_alloc_cma(self) -> None:
        by_type = _types(Unmovable=self.EMPTY, Movable=self.EMPTY, CMA=self.HIGH_ONLY)
        z = zone(100000, 100, blocks=self.HIGH_ONLY, by_type=by_type)
        assert not check(z, 0, CheckEra.B, order=2).passed
        assert check(z, AllocFlags.CMA, CheckEra.B, order=2).passed

    def test_4_14_harder_passes_on_any_block(self) -> None:
        by_type = _types(Unmovable=self.EMPTY, CMA=self.HIGH_ONLY)
        z = zone(100000, 100, blocks=self.HIGH_ONLY, by_type=by_type)
        assert not check(z, ATOMIC_OLD, CheckEra.B, order=2).passed
        assert check(z, ATOMIC_OLD, CheckEra.B_ANY_BLOCK, order=2).passed

    def test_buddyinfo_only_counts_any_block(self) -> None:
        z = zone(100000, 100, blocks=self.HIGH_ONLY)
        assert check(z, 0, CheckEra.B, order=9).passed
        assert not check(z, 0, CheckEra.B, order=10).passed

    def test_boost_exception_for_atomic_at_min(self) -> None:
        z = zone(6000, 14385, boost=4096)  # base min 14385, printed 18481
        kernel = check(z, 0, CheckEra.B)
        assert not kernel.passed
        atomic = check(z, ATOMIC_OLD, CheckEra.B)
        assert atomic.passed  # m2 of the base min (5395) < free
        boosted_only = check(replace(z, boost_pages=0), ATOMIC_OLD, CheckEra.B)
        assert not boosted_only.passed  # without the exception, m2 of 18481 = 6931
        assert atomic.used_unboosted_mark
        # The exception is for WMARK_MIN only.
        low = zone_watermark_ok(z, 0, WatermarkLevel.LOW, 2, ATOMIC_OLD, CheckEra.B)
        assert not low.passed


class TestEraC:
    EMPTY = (0,) * 11
    HIGH_ONLY = (0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0)

    def test_highatomic_blocks_need_highatomic_flag(self) -> None:
        by_type = _types(Unmovable=self.EMPTY, HighAtomic=self.HIGH_ONLY)
        z = zone(100000, 100, blocks=self.HIGH_ONLY, by_type=by_type)
        assert not check(z, ATOMIC_NEW, CheckEra.C, order=3).passed
        assert check(z, ATOMIC_NEW | AllocFlags.HIGHATOMIC, CheckEra.C, order=3).passed
        assert check(z, AllocFlags.OOM, CheckEra.C, order=3).passed

    def test_6_12_subtracts_free_highatomic_only(self) -> None:
        z = zone(14385 + 600, reserved_highatomic_pages=1024, free_highatomic_pages=100)
        assert not check(z, 0, CheckEra.C).passed
        assert check(z, 0, CheckEra.C_FREE_HIGHATOMIC).passed

    def test_boost_exception_uses_min_reserve(self) -> None:
        z = zone(6000, 14385, boost=4096)
        assert check(z, ATOMIC_NEW, CheckEra.C).passed
        assert not check(z, NON_BLOCK, CheckEra.C).passed  # GFP_NOWAIT gets no exception

    def test_order_must_be_non_negative_and_level_known(self) -> None:
        with pytest.raises(ValueError):
            check(zone(10), 0, CheckEra.C, order=-1)
        with pytest.raises(ValueError, match="promo"):
            zone_watermark_ok(zone(10), 0, WatermarkLevel.PROMO, 2, 0, CheckEra.C)


class TestEraSelection:
    @pytest.mark.parametrize(
        ("release", "era"),
        [
            ("2.6.32-642.6.2.el6.x86_64", CheckEra.A_RHEL6),
            ("2.6.32", CheckEra.A),
            ("2.6.38-8-generic", CheckEra.A_OFF_BY_TWO),
            ("3.2.0-58-generic", CheckEra.A_OFF_BY_TWO),
            ("3.4.5", CheckEra.A),
            ("3.10.0-1160.el7.x86_64", CheckEra.A),
            ("4.4.155", CheckEra.B),
            ("4.14.5", CheckEra.B_ANY_BLOCK),
            ("4.18.0-80.11.2.el8_0.x86_64", CheckEra.B),
            ("4.19.0", CheckEra.B),
            ("6.1.20", CheckEra.B),
            ("6.6.9", CheckEra.C),
            ("6.18.44-fc-v595", CheckEra.C_FREE_HIGHATOMIC),
        ],
    )
    def test_check_era_for(self, release: str, era: CheckEra) -> None:
        assert check_era_for(KernelRelease.parse(release)) is era

    def test_unknown_release_is_current(self) -> None:
        assert check_era_for(None) is CheckEra.C_FREE_HIGHATOMIC


class TestAgainstRealZones:
    def test_reference_capture_with_pagetypeinfo(self) -> None:
        from conftest import FIXTURES
        from minfree.parsers.zoneinfo import parse_zones

        base = FIXTURES / "proc-captures" / "firecracker-6.18"
        zones = parse_zones(
            (base / "zoneinfo").read_text(),
            (base / "buddyinfo").read_text(),
            (base / "pagetypeinfo").read_text(),
        )
        dma32 = next(z for z in zones if z.name == "DMA32")
        assert dma32.free_blocks_by_migratetype is not None
        era = CheckEra.C_FREE_HIGHATOMIC
        result = zone_watermark_ok(dma32, 0, WatermarkLevel.LOW, 2, 0, era)
        # free - (low + protection[Normal]) by hand from the capture:
        assert result.spare_pages == dma32.free_pages - dma32.low_pages - dma32.protection_pages[2]
        assert result.passed == (result.spare_pages > 0)
        top = dma32.highest_free_order()
        assert top is not None
        assert top >= 0
        assert zone_watermark_ok(dma32, top, WatermarkLevel.MIN, 2, 0, era).passed
        if top + 1 < 11:
            above = zone_watermark_ok(dma32, top + 1, WatermarkLevel.MIN, 2, 0, era)
            assert not above.passed
            assert above.failed_by == "order"


# -- the compiled core is the same function --------------------------------------------


_ERAS = [int(e) for e in CheckEra]


@st.composite
def core_inputs(draw: st.DrawFn) -> tuple:
    orders = 11
    era = draw(st.sampled_from(_ERAS))
    order = draw(st.integers(0, 10))
    mark = draw(st.integers(0, 50000))
    boost = draw(st.integers(0, 5000))
    unboosted = draw(st.sampled_from([-1, max(0, mark - boost)]))
    free = draw(st.integers(-100, 200000))
    reserve = draw(st.integers(0, 20000))
    flags = draw(st.integers(0, 0xFFF)) & ~0x04
    blocks = np.array(
        draw(st.lists(st.integers(0, 300), min_size=orders, max_size=orders)), dtype=np.int64
    )
    types = np.array(
        draw(
            st.lists(
                st.lists(st.integers(0, 3), min_size=6, max_size=6),
                min_size=orders,
                max_size=orders,
            )
        ),
        dtype=np.int64,
    )
    return (
        era,
        order,
        mark,
        unboosted,
        draw(st.integers(0, mark)),
        free,
        reserve,
        flags,
        draw(st.integers(0, 4096)),
        draw(st.integers(0, 4096)),
        draw(st.integers(0, 100)),
        blocks,
        types,
        draw(st.integers(0, 1)),
        draw(st.integers(0, 1)),
        9,
    )


@pytest.fixture(scope="module")
def compiled_core():
    numba = pytest.importorskip("numba")
    return numba.njit(watermark_ok_core)


def test_numba_compiles_the_same_function(compiled_core) -> None:
    blocks = np.zeros(11, dtype=np.int64)
    types = np.zeros((11, len(MIGRATETYPE_COLUMNS)), dtype=np.int64)
    args = (int(CheckEra.C), 0, 14385, -1, 14385, 5396, 0, 0x30, 0, 0, 0, blocks, types, 0, 0, 9)
    assert compiled_core(*args) == watermark_ok_core(*args) == (True, 0, 1, 5395, 5396, False)


@settings(max_examples=300, deadline=None)
@given(args=core_inputs())
def test_numba_agrees_with_python_on_random_inputs(compiled_core, args: tuple) -> None:
    got = compiled_core(*args)
    expected = watermark_ok_core(*args)
    assert tuple(bool(x) if isinstance(x, (bool, np.bool_)) else int(x) for x in got) == tuple(
        bool(x) if isinstance(x, (bool, np.bool_)) else int(x) for x in expected
    )


class TestAtomicFloor:
    """``atomic_floor_pages`` is the free count at which the full check flips for GFP_ATOMIC."""

    @pytest.mark.parametrize(
        "era", [CheckEra.A, CheckEra.B, CheckEra.C, CheckEra.C_FREE_HIGHATOMIC]
    )
    def test_floor_is_where_the_check_flips(self, era: CheckEra) -> None:
        from minfree.kernel.watermark_check import GFP_ATOMIC_ALLOC_FLAGS, atomic_floor_pages

        z = zone(
            0,
            14385,
            boost=1024,
            protection=(0, 0, 512, 512, 512),
            free_cma_pages=300,
            reserved_highatomic_pages=2048,
        )
        floor = atomic_floor_pages(z, era, 2)
        at = zone_watermark_ok(
            replace(z, free_pages=floor), 0, WatermarkLevel.MIN, 2, GFP_ATOMIC_ALLOC_FLAGS, era
        )
        above = zone_watermark_ok(
            replace(z, free_pages=floor + 1), 0, WatermarkLevel.MIN, 2, GFP_ATOMIC_ALLOC_FLAGS, era
        )
        assert not at.passed
        assert above.passed

    def test_floor_without_numpy_import(self) -> None:
        import subprocess
        import sys

        code = (
            "import sys; from minfree.kernel.watermark_check import atomic_floor_pages, CheckEra;"
            "from minfree.model.zone import Zone;"
            "z = Zone(0, 'DMA32', 1, 0, 14385, 1, 1, protection_pages=(0, 0, 512));"
            "print(atomic_floor_pages(z, CheckEra.C, 2), 'numpy' in sys.modules)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.split() == ["5907", "False"]
