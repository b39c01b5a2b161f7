"""Sizing rules of `minfree recommend` on hand-checked inputs."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minfree.analysis.diagnosis import (
    AerospikeSizing,
    Diagnosis,
    FailureGroup,
    FailureZoneState,
    MemoryPicture,
    NicInfo,
    ReclaimDelta,
)
from minfree.analysis.findings import evaluate
from minfree.recommend import recommend
from minfree.recommend.nic import rings_from_interfaces, rx_buffer_bytes

GIB_KB = 1 << 20

HOST = Diagnosis(
    label="unit",
    release="5.15.0",
    memory=MemoryPicture(total_kb=64 * GIB_KB, free_kb=2 * GIB_KB,
                         available_kb=40 * GIB_KB, file_cache_kb=50 * GIB_KB),
    sysctl={"vm.min_free_kbytes": "67584", "vm.watermark_scale_factor": "10",
            "vm.swappiness": "0", "vm.zone_reclaim_mode": "0",
            "vm.max_map_count": "262144", "net.core.somaxconn": "4096"},
    thp_enabled="madvise",
    thp_defrag="madvise",
    kernel_default_min_free_kb=32_768,
    thp_recommended_min_free_kb=67_584,
    interfaces=(NicInfo("eth0", "ixgbe", 1500, 16, None), NicInfo("eth1", "ixgbe", 1500, 16,
                                                                  4096),
                NicInfo("lo", None, 65536, 1, None), NicInfo("docker0", "bridge", 1500, 1)),
)


def run(d: Diagnosis, **kw: bool):
    return recommend(d, evaluate(d), **kw)


def test_rx_buffer_sizes_follow_the_mtu() -> None:
    assert rx_buffer_bytes(1500) == 2048
    assert rx_buffer_bytes(4000) == 8192
    assert rx_buffer_bytes(9000) == 16384


def test_burst_counts_physical_rings_only() -> None:
    burst = rings_from_interfaces(HOST.interfaces)
    assert [r.name for r in burst.rings] == ["eth0", "eth1"]
    # eth0: 16 queues x 512 (IXGBE_DEFAULT_RXD) x 2 KiB = 16 MiB; eth1: 16 x 4096 x 2 KiB.
    assert burst.total_kb == 16 * 512 * 2 + 16 * 4096 * 2


def test_atomic_burst_candidate_is_eight_fifths_of_the_burst() -> None:
    r = run(HOST)
    c = r.candidate("atomic_burst")
    assert c is not None
    assert c.kb == -(-(16 * 512 * 2 + 16 * 4096 * 2) * 8 // 5)
    assert not c.supported  # a quiet host: shown for reference only


def test_generic_quiet_host_keeps_its_value() -> None:
    r = run(HOST)
    assert r.chosen_rule == "thp"
    assert r.chosen_kb == 67_584
    assert [x.sysctl for x in r.recommendations] == []
    assert r.apply_command() is None


def test_aerospike_profile_default_and_from_conf() -> None:
    d = dataclasses.replace(HOST, profile="aerospike")
    r = run(d)
    assert r.candidate("aerospike").kb == 1_150_976
    assert r.chosen_kb == 1_150_976
    rec = next(x for x in r.recommendations if x.sysctl == "vm.min_free_kbytes")
    assert rec.kind == "at-least"
    assert rec.recommended == "1150976"
    assert r.apply_command().startswith("minfree apply --min-free-kbytes 1150976")
    conf = AerospikeSizing(4 << 30, "etc/aerospike/aerospike.conf", "ns1 index-stage-size 4G")
    r = run(dataclasses.replace(d, aerospike=conf))
    assert r.candidate("aerospike").kb == 4 * GIB_KB + 102_400


def test_five_percent_cap_and_allow_high() -> None:
    small = dataclasses.replace(
        HOST, profile="aerospike",
        memory=MemoryPicture(total_kb=8 * GIB_KB, free_kb=GIB_KB, available_kb=6 * GIB_KB,
                             file_cache_kb=5 * GIB_KB))
    r = run(small)
    assert r.chosen_kb == int(8 * GIB_KB * 0.05)
    assert r.capped_by == "5% of RAM"
    r = run(small, allow_high=True)
    assert r.chosen_kb == int(8 * GIB_KB * 0.10)


def test_oracle_rule_per_numa_node() -> None:
    r = run(dataclasses.replace(HOST, numa_nodes=4))
    assert r.candidate("oracle").kb == 4 * GIB_KB
    r = run(HOST)
    assert r.candidate("oracle").kb == int(64 * GIB_KB * 0.005)


def test_failure_deficit_candidate() -> None:
    group = FailureGroup(
        "java", 1, "0x20", "tcp accept", 4, atomic=True,
        zones=(FailureZoneState("Normal", free_kb=2_000, min_kb=60_000, low_kb=75_000,
                                effective_min_kb=22_500, failed_by="watermark"),))
    r = run(dataclasses.replace(HOST, failures=(group,)))
    c = r.candidate("failure_deficit")
    # deficit = 22500 + 8 (order-1 request) - 2000 = 20508 kB; min grows by 8/5 of it.
    assert c.inputs["deficit_kb"] == 20_508
    grown = 60_000 + -(-20_508 * 8 // 5)
    assert c.kb == -(-67_584 * grown // 60_000)
    assert c.supported
    # Atomic failures make the RX burst model count too; the larger of the two wins.
    assert r.candidate("atomic_burst").supported
    assert r.chosen_kb == max(c.kb, r.candidate("atomic_burst").kb)


def test_watermark_scale_factor_when_kswapd_falls_behind() -> None:
    from minfree.model.zone import Zone

    zones = (Zone(0, "Normal", 2, 100_000, 4_000, 5_000, 6_000, managed_pages=16_000_000),)
    reclaim = ReclaimDelta(interval_s=10, allocstall=500, pgscan_direct=90_000,
                           kswapd_low_wmark_hit_quickly=40, pgalloc=20_000_000)
    r = run(dataclasses.replace(HOST, zones=zones, reclaim=reclaim))
    rec = next(x for x in r.recommendations if x.sysctl == "vm.watermark_scale_factor")
    # 2,000,000 pages/s x 0.5 s = 1,000,000 pages over 16,000,000 managed -> 625.
    assert rec.recommended == "625"
    assert rec.kind == "at-least"
    # Out of the kernel's range (1..1000 on 5.4): limited to the maximum.
    old = dataclasses.replace(HOST, release="5.4.0", zones=zones,
                              reclaim=dataclasses.replace(reclaim, pgalloc=80_000_000))
    rec = next(x for x in run(old).recommendations if x.sysctl == "vm.watermark_scale_factor")
    assert rec.recommended == "1000"


def test_fragmentation_knobs() -> None:
    from minfree.model.zone import Zone

    frag = Zone(0, "Normal", 2, 300_000, 3_000, 3_750, 4_500, managed_pages=3_300_000,
                free_blocks=(200_000, 50_000) + (0,) * 9)
    d = dataclasses.replace(HOST, zones=(frag,), thp_defrag="always",
                            sysctl={**HOST.sysctl, "vm.watermark_boost_factor": "0",
                                    "vm.extfrag_threshold": "900"})
    r = run(d)
    recs = {x.sysctl: x for x in r.recommendations}
    assert recs["vm.watermark_boost_factor"].recommended == "15000"
    assert recs["vm.extfrag_threshold"].recommended == "500"
    assert recs["transparent_hugepage.defrag"].applicable is False
    assert "transparent_hugepage" not in (r.apply_command() or "")


@given(st.integers(min_value=68, max_value=65536))
def test_buffer_is_a_power_of_two_that_holds_the_frame(mtu: int) -> None:
    size = rx_buffer_bytes(mtu)
    assert size & (size - 1) == 0
    assert size >= mtu + 14


def test_recommended_min_free_kb_is_what_apply_uses() -> None:
    from conftest import FIXTURES
    from minfree.cli.apply import recommended_min_free_kbytes
    from minfree.errors import UsageError
    from minfree.outputs.doctor_json import diagnose_root
    from minfree.recommend import recommended_min_free_kb

    scenarios = FIXTURES / "scenarios"

    def for_root(name: str) -> int | None:
        return recommended_min_free_kb(diagnose_root(str(scenarios / name), interval_s=0.0))

    assert for_root("classic-rhel7-aerospike") == 201_301
    assert recommended_min_free_kbytes(str(scenarios / "classic-rhel7-aerospike"),
                                       allow_high=False) == "201301"
    # Nothing to change: today's value comes back, and `apply ... recommended` refuses.
    assert for_root("healthy") == 67_584
    assert for_root("reserve-too-high") == 67_584
    with pytest.raises(UsageError, match="nothing to change"):
        recommended_min_free_kbytes(str(scenarios / "healthy"), allow_high=False)
