"""Default ``min_free_kbytes``: square-root rule, caps, user-value rule, THP recommendation.

Oracles: the running kernel of this host (67584 kB, the THP recommendation for 3 zones), the
fixture roots whose sysctl shows the THP value, and hand-worked numbers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FIXTURES
from minfree.kernel.min_free import (
    MIN_FREE_CAP_NEW_KB,
    MIN_FREE_CAP_OLD_KB,
    after_recalculation_kbytes,
    default_min_free_detail,
    default_min_free_kbytes,
    expected_min_free_kbytes,
    min_free_cap_kbytes,
    nr_free_buffer_pages,
    pageblock_order_for_page_size,
    thp_active,
    thp_mode,
    thp_recommendation_detail,
    thp_recommended_min_free_kbytes,
)
from minfree.kernel.release import KernelRelease
from minfree.model.zone import Zone
from minfree.parsers.zoneinfo import parse_zoneinfo


def normal(size: int, *, high: int = 0, name: str = "Normal", index: int = 2) -> Zone:
    return Zone(0, name, index, 0, 0, 0, high, present_pages=size, managed_pages=size)


class TestSquareRootRule:
    def test_ballpark_table(self) -> None:
        # kernel-facts §1.1: 1 GiB -> 4096 kB, 4 GiB -> 8192, 16 GiB -> 16384, 64 GiB -> 32768.
        for gib, expected in ((1, 4096), (4, 8192), (16, 16384), (64, 32768)):
            pages = gib * 262144
            assert default_min_free_kbytes([normal(pages)]) == expected

    def test_caps_by_era(self) -> None:
        four_tib = [normal(4 * 1024 * 262144)]
        old = KernelRelease.parse("5.4.0-99-generic")
        new = KernelRelease.parse("5.10.0")
        rhel7 = KernelRelease.parse("3.10.0-1160.el7.x86_64")
        assert default_min_free_kbytes(four_tib, release=old) == MIN_FREE_CAP_OLD_KB
        assert default_min_free_kbytes(four_tib, release=new) == MIN_FREE_CAP_NEW_KB
        assert default_min_free_kbytes(four_tib, release=rhel7) == MIN_FREE_CAP_NEW_KB
        assert min_free_cap_kbytes(KernelRelease.parse("2.6.32-754.el6"))[0] == 65536
        one_tib = [normal(1024 * 262144)]
        assert default_min_free_kbytes(one_tib, release=new) == 131072
        assert default_min_free_detail(one_tib, release=old).capped

    def test_floor(self) -> None:
        assert default_min_free_kbytes([normal(100)]) == 128

    def test_runtime_subtracts_high_and_skips_highmem_movable(self) -> None:
        zones = [
            normal(262144, high=6144),
            Zone(0, "Movable", 3, 0, 0, 0, 0, present_pages=10**6, managed_pages=10**6),
        ]
        assert nr_free_buffer_pages(zones) == 262144 - 6144
        assert nr_free_buffer_pages(zones, at_boot=True) == 262144
        assert (
            default_min_free_kbytes(zones, at_boot=False) == 4047
        )  # isqrt(256000*4*16) = isqrt(16384000)

    def test_user_value_preferred_from_4_4(self) -> None:
        new_release = KernelRelease.parse("4.4.0")
        assert after_recalculation_kbytes(19832, 67584, user_set=True, release=new_release) == 67584
        assert after_recalculation_kbytes(90000, 67584, user_set=True, release=new_release) == 90000
        old = KernelRelease.parse("3.10.4")
        assert after_recalculation_kbytes(19832, 67584, user_set=True, release=old) == 19832
        rhel7 = KernelRelease.parse("3.10.0-1160.el7.x86_64")
        assert after_recalculation_kbytes(19832, 67584, user_set=True, release=rhel7) == 67584


class TestThpRecommendation:
    def test_zone_counts(self) -> None:
        # 1 zone -> 22528 kB, 2 -> 45056, 3 -> 67584, 4 (2 nodes) -> 90112.
        big = 10**7
        for n, expected in ((1, 22528), (2, 45056), (3, 67584)):
            zones = [
                normal(big, name=name, index=i)
                for i, name in enumerate(["DMA", "DMA32", "Normal"][:n])
            ]
            assert thp_recommended_min_free_kbytes(zones) == expected
        two_nodes = [normal(big, name=n, index=i) for i, n in enumerate(["DMA", "DMA32", "Normal"])]
        two_nodes.append(Zone(1, "Normal", 2, 0, 0, 0, 0, present_pages=big, managed_pages=big))
        assert thp_recommended_min_free_kbytes(two_nodes) == 90112

    def test_movable_counted_only_before_4_19(self) -> None:
        zones = [
            normal(10**7),
            Zone(0, "Movable", 3, 0, 0, 0, 0, present_pages=10**6, managed_pages=10**6),
        ]
        assert thp_recommendation_detail(zones).nr_zones == 1
        old = thp_recommendation_detail(zones, release=KernelRelease.parse("4.14.5"))
        assert old.nr_zones == 2

    def test_five_percent_cap_and_64k_pages(self) -> None:
        # arm64 with 64K pages: 8192-page pageblocks, the 5% cap decides.
        zones = [normal(65536)]  # 4 GiB of 64K pages
        rec = thp_recommendation_detail(zones, page_size_bytes=65536)
        assert rec.pageblock_pages == 8192
        assert rec.capped
        assert rec.pages == 65536 // 20
        assert rec.kbytes == (65536 // 20) * 64
        assert pageblock_order_for_page_size(4096) == 9
        assert pageblock_order_for_page_size(16384) == 11

    def test_populated_uses_present(self) -> None:
        # The 6.18 host's Normal zone: present 5505024 while managed grows lazily.
        z = Zone(0, "Normal", 2, 0, 0, 0, 0, present_pages=5505024, managed_pages=0)
        assert thp_recommendation_detail([z]).nr_zones == 1

    def test_modes(self) -> None:
        assert thp_mode("always [madvise] never") == "madvise"
        assert thp_mode("[always] madvise never") == "always"
        assert thp_mode("never") == "never"
        assert thp_mode(None) is None
        assert thp_active("always [madvise] never")
        assert not thp_active("always madvise [never]")
        assert thp_active("always madvise [never]", "always [inherit] madvise never") is False
        assert thp_active("always madvise [never]", "[always] inherit madvise never")


class TestAgainstRealKernels:
    """The value each kernel actually runs with, reproduced from its zones."""

    def test_this_host_reproduces_running_value(self) -> None:
        # Oracle: /proc/sys/vm/min_free_kbytes on the running kernel (67584 on the reference
        # host). Skipped only where the host does not run THP or lacks the files.
        zoneinfo = Path("/proc/zoneinfo")
        enabled = Path("/sys/kernel/mm/transparent_hugepage/enabled")
        if not zoneinfo.exists() or not enabled.exists():
            pytest.skip("no /proc/zoneinfo or THP sysfs on this host")
        running = int(Path("/proc/sys/vm/min_free_kbytes").read_text())
        zones = parse_zoneinfo(zoneinfo.read_text()).zones
        got = expected_min_free_kbytes(
            zones, thp_enabled=enabled.read_text(), user_value_kbytes=None
        )
        if not got.thp_active or got.rule != "THP recommendation" or running != got.kbytes:
            # Someone else changed the sysctl on this shared machine: the THP rule must
            # still be the reason for the reference value.
            assert thp_recommended_min_free_kbytes(zones) == 67584
        else:
            assert got.kbytes == running

    def test_reference_capture(self) -> None:
        base = FIXTURES / "proc-captures" / "firecracker-6.18"
        zones = parse_zoneinfo((base / "zoneinfo").read_text()).zones
        got = expected_min_free_kbytes(zones, thp_enabled="always [madvise] never")
        assert (got.kbytes, got.rule) == (67584, "THP recommendation")
        assert got.thp.nr_zones == 3
        assert not got.thp.capped

    @pytest.mark.parametrize(
        ("root", "zones_counted"),
        [
            ("hotsos-kubernetes-5.4.0-99", 3),
            ("coreos-rhel8-4.18.0-80.11.2", 3),
            ("hotsos-vault-lxd-5.4.0-97", 3),
        ],
    )
    def test_fixture_roots_running_thp_value(self, root: str, zones_counted: int) -> None:
        base = FIXTURES / "roots" / root
        zones = parse_zoneinfo((base / "proc/zoneinfo").read_text()).zones
        running = int((base / "proc/sys/vm/min_free_kbytes").read_text())
        enabled_file = base / "sys/kernel/mm/transparent_hugepage/enabled"
        enabled = enabled_file.read_text() if enabled_file.exists() else "[madvise]"
        osrelease = KernelRelease.parse((base / "proc/sys/kernel/osrelease").read_text())
        got = expected_min_free_kbytes(zones, thp_enabled=enabled, release=osrelease)
        assert got.thp.nr_zones == zones_counted
        assert got.kbytes == running
        assert got.rule == "THP recommendation"

    def test_ubuntu_3_2_thp_value(self) -> None:
        # 3.2 zoneinfo has no managed line: sizes are present pages.
        base = FIXTURES / "roots" / "ubuntu-3.2.0-58-generic"
        zones = parse_zoneinfo((base / "proc/zoneinfo").read_text()).zones
        running = int((base / "proc/sys/vm/min_free_kbytes").read_text())
        assert (
            thp_recommended_min_free_kbytes(zones, release=KernelRelease.parse("3.2.0")) == running
        )


THP_ENABLED = Path("/sys/kernel/mm/transparent_hugepage/enabled")


@pytest.mark.live
class TestAgainstRunningKernelRecalculation:
    """Oracle: the running kernel recomputing ``min_free_kbytes`` itself.

    With a user value of 16384 kB written, switching THP to ``never`` makes a 6.1+ kernel
    call ``calculate_min_free_kbytes()`` (the square-root rule at runtime: lowmem minus the
    HIGH watermarks; the result replaces the user value only if larger); switching THP back
    on makes khugepaged raise the value to its recommendation. Both results are read back
    from /proc/sys/vm/min_free_kbytes and must equal our rules exactly. THP and the sysctl
    are restored in ``finally`` (the sysctl by ``vm_sysctl_writer``).
    """

    def test_sqrt_rule_then_thp_raise(self, vm_sysctl_writer) -> None:
        from minfree.kernel.release import KernelRelease
        from minfree.parsers.meminfo import parse_meminfo

        if not THP_ENABLED.exists():
            pytest.skip("no THP on this kernel")
        release = KernelRelease.parse(Path("/proc/sys/kernel/osrelease").read_text())
        if release < (6, 1):
            pytest.skip("THP-off recalculation needs 6.1+")
        original_thp = THP_ENABLED.read_text().split("[")[1].split("]")[0]
        try:
            for _attempt in range(5):
                vm_sysctl_writer.write("min_free_kbytes", 16384)
                THP_ENABLED.write_text("always\n")  # a known "on" state to start from
                vm_sysctl_writer.write("min_free_kbytes", 16384)
                zones = parse_zoneinfo(Path("/proc/zoneinfo").read_text()).zones
                THP_ENABLED.write_text("never\n")
                after_off = int(Path("/proc/sys/vm/min_free_kbytes").read_text())
                zones_after = parse_zoneinfo(Path("/proc/zoneinfo").read_text()).zones
                if [z.managed_pages for z in zones] == [z.managed_pages for z in zones_after]:
                    break
            memtotal_pages = parse_meminfo(Path("/proc/meminfo").read_text()).total_kb // 4
            managed = sum(
                z.managed_pages or 0 for z in zones if z.name in ("DMA", "DMA32", "Normal")
            )
            # On a lazily initialised host the kernel's count is MemTotal (see
            # nr_free_buffer_pages); elsewhere it is the zones' managed pages.
            lazily_initialised = managed < 0.9 * memtotal_pages
            expected = default_min_free_detail(
                zones,
                release=release,
                at_boot=False,
                lowmem_managed_pages=memtotal_pages if lazily_initialised else None,
            ).kbytes
            assert after_off == after_recalculation_kbytes(
                expected, 16384, user_set=True, release=release
            )
            THP_ENABLED.write_text(f"{original_thp}\n")
            after_on = int(Path("/proc/sys/vm/min_free_kbytes").read_text())
            zones_now = parse_zoneinfo(Path("/proc/zoneinfo").read_text()).zones
            if thp_active(f"[{original_thp}]"):
                assert after_on == max(after_off, thp_recommended_min_free_kbytes(zones_now))
        finally:
            THP_ENABLED.write_text(f"{original_thp}\n")
