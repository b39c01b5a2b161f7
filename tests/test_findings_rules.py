"""Findings rules on hand-checked diagnoses: each key triggered once and not triggered once.

The numbers are small and chosen so the outcome can be checked by hand; the scenario tests
(tests/test_doctor_scenarios.py) run the same rules on real captures.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from minfree.analysis.diagnosis import (
    BootDefinition,
    BootValue,
    BootView,
    Diagnosis,
    FailureGroup,
    FailureZoneState,
    MemoryPicture,
    ReclaimDelta,
    reclaim_delta,
)
from minfree.analysis.findings import FINDING_KEYS, evaluate, verdict
from minfree.model.zone import Zone


def zone(name: str, index: int, free: int, mn: int, lo: int, hi: int, managed: int,
         blocks: tuple[int, ...] | None = None) -> Zone:
    return Zone(node=0, name=name, index=index, free_pages=free, min_pages=mn, low_pages=lo,
                high_pages=hi, managed_pages=managed, free_blocks=blocks)


# A 16 GiB single-node host at rest: plenty free, defaults everywhere.
BASE = Diagnosis(
    label="unit",
    release="5.15.0",
    memory=MemoryPicture(total_kb=16_000_000, free_kb=12_000_000, available_kb=14_000_000,
                         file_cache_kb=2_000_000, swap_total_kb=0),
    zones=(
        zone("DMA32", 1, 200_000, 1_000, 1_250, 1_500, 700_000,
             (10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 150)),
        zone("Normal", 2, 2_800_000, 3_000, 3_750, 4_500, 3_300_000,
             (100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 2_700)),
    ),
    sysctl={"vm.min_free_kbytes": "16384", "vm.watermark_scale_factor": "10",
            "vm.swappiness": "60", "vm.vfs_cache_pressure": "100",
            "vm.zone_reclaim_mode": "0", "vm.max_map_count": "262144",
            "net.core.somaxconn": "4096"},
    thp_enabled="madvise",
    thp_defrag="madvise",
    kernel_default_min_free_kb=16_000,
    thp_recommended_min_free_kb=45_056,
)


def keys(d: Diagnosis) -> set[str]:
    return {f.key for f in evaluate(d)}


def with_sysctl(d: Diagnosis, **changes: str) -> Diagnosis:
    sysctl = dict(d.sysctl)
    for key, value in changes.items():
        sysctl[key.replace("__", ".")] = value
    return dataclasses.replace(d, sysctl=sysctl)


def test_base_is_healthy() -> None:
    findings = evaluate(BASE)
    assert findings == ()
    assert verdict(findings).status == "healthy"


ATOMIC_GROUP = FailureGroup(
    process="asd", order=1, mode="0x20", context="tcp accept (sk_clone)", count=3,
    suppressed=12, atomic=True,
    zones=(FailureZoneState("Normal", free_kb=6_380, min_kb=6_112, low_kb=7_640,
                            high_kb=9_168, effective_min_kb=2_292, failed_by="watermark",
                            file_cache_kb=3_466_804),),
    sources=("kern.log:10",),
)


def test_page_allocation_failures_and_reserve_exhausted() -> None:
    d = dataclasses.replace(BASE, failures=(ATOMIC_GROUP,), unattributed_suppressed=5)
    findings = evaluate(d)
    by_key = {f.key: f for f in findings}
    paf = by_key["PAGE_ALLOCATION_FAILURES"]
    assert paf.severity == "critical"
    assert paf.params["total"] == 3 + 12 + 5  # reports + suppressed in group + unattributed
    assert paf.params["reports"] == 3
    assert paf.params["suppressed"] == 12 + 5
    assert paf.params["by_order"] == {"1": 3}
    assert by_key["ATOMIC_RESERVE_EXHAUSTED"].params["zones"][0]["zone"] == "Normal"
    # Mem-Info at failure time: 3.4 GB of file cache, Normal near low: the classic case.
    assert by_key["CACHE_CROWDS_FREE_MEMORY"].params["at"] == "failure"
    v = verdict(findings)
    assert v.status == "failing"
    assert v.reason is not None
    assert v.reason.key in ("PAGE_ALLOCATION_FAILURES", "ATOMIC_RESERVE_EXHAUSTED")


def test_costly_order_failures_only_put_the_host_at_risk() -> None:
    group = dataclasses.replace(ATOMIC_GROUP, order=9, zones=(), atomic=False)
    d = dataclasses.replace(BASE, failures=(group,))
    findings = evaluate(d)
    assert {f.key for f in findings} >= {"PAGE_ALLOCATION_FAILURES"}
    assert "ATOMIC_RESERVE_EXHAUSTED" not in {f.key for f in findings}
    assert verdict(findings).status == "at risk"


def test_high_order_fragmentation_from_a_report_and_from_buddyinfo() -> None:
    frag_zone = FailureZoneState("Normal", free_kb=400_000, min_kb=6_112, low_kb=7_640,
                                 failed_by="order", highest_free_order=0)
    group = dataclasses.replace(ATOMIC_GROUP, order=3, zones=(frag_zone,), verdict="fragmented")
    assert "HIGH_ORDER_FRAGMENTATION" in keys(dataclasses.replace(BASE, failures=(group,)))
    # Now-state: Normal has 1.2 GB free, all in order-0/1 blocks.
    normal = dataclasses.replace(BASE.zones[1], free_pages=300_000,
                                 free_blocks=(200_000, 50_000) + (0,) * 9)
    d = dataclasses.replace(BASE, zones=(BASE.zones[0], normal))
    findings = [f for f in evaluate(d) if f.key == "HIGH_ORDER_FRAGMENTATION"]
    assert findings
    assert findings[0].params["highest_free_order"] == 1
    assert findings[0].params["orders"] == [3]
    assert "HIGH_ORDER_FRAGMENTATION" not in keys(BASE)


def test_cache_crowds_free_memory_now() -> None:
    # 4 GB host: 129 MB free, 2.6 GB page cache, high watermarks sum to ~100 MB.
    d = dataclasses.replace(
        BASE,
        memory=MemoryPicture(4_026_036, 129_248, 2_775_844, 2_600_000),
        zones=(zone("DMA32", 1, 20_000, 3_000, 3_750, 4_500, 700_000),
               zone("Normal", 2, 12_000, 13_000, 16_250, 19_500, 3_000_000)),
    )
    f = next(f for f in evaluate(d) if f.key == "CACHE_CROWDS_FREE_MEMORY")
    assert f.params["at"] == "now"
    assert f.params["free_kb"] == 129_248
    assert "CACHE_CROWDS_FREE_MEMORY" not in keys(BASE)


def test_kswapd_falling_behind_needs_rising_counters() -> None:
    quiet = ReclaimDelta(interval_s=5, allocstall=0, pgscan_direct=0,
                         kswapd_low_wmark_hit_quickly=0, pgalloc=10_000)
    assert "KSWAPD_FALLING_BEHIND" not in keys(dataclasses.replace(BASE, reclaim=quiet))
    busy = reclaim_delta({"allocstall_normal": 10, "pgalloc_normal": 0,
                          "kswapd_low_wmark_hit_quickly": 3},
                         {"allocstall_normal": 250, "pgalloc_normal": 5_000_000,
                          "kswapd_low_wmark_hit_quickly": 40}, 5.0, "proc/vmstat")
    f = next(f for f in evaluate(dataclasses.replace(BASE, reclaim=busy))
             if f.key == "KSWAPD_FALLING_BEHIND")
    assert f.params["allocstall"] == 240
    assert f.params["kswapd_low_wmark_hit_quickly"] == 37
    assert f.params["allocation_rate_kb_s"] == 4_000_000.0


def test_min_free_below_default_and_too_high() -> None:
    assert "MIN_FREE_BELOW_KERNEL_DEFAULT" in keys(with_sysctl(BASE, vm__min_free_kbytes="4096"))
    assert "MIN_FREE_BELOW_KERNEL_DEFAULT" not in keys(BASE)
    too_high = with_sysctl(BASE, vm__min_free_kbytes=str(2_000_000))  # 12.5% of RAM
    f = next(f for f in evaluate(too_high) if f.key == "MIN_FREE_TOO_HIGH")
    assert f.params["percent_of_ram"] == 12.5
    assert f.params["reason"] == "share"
    assert "MIN_FREE_TOO_HIGH" not in keys(BASE)
    # Under 5% but the watermarks hold more than what is left available: OOM risk.
    tight = dataclasses.replace(BASE, memory=dataclasses.replace(BASE.memory, available_kb=10))
    f = next(f for f in evaluate(tight) if f.key == "MIN_FREE_TOO_HIGH")
    assert f.params["reason"] == "available"


def test_min_free_raised_by_thp() -> None:
    raised = with_sysctl(BASE, vm__min_free_kbytes="45056")
    f = next(f for f in evaluate(raised) if f.key == "MIN_FREE_RAISED_BY_THP")
    assert f.severity == "info"
    assert f.params["thp_kb"] == 45_056
    # THP off: khugepaged does not touch the value.
    assert "MIN_FREE_RAISED_BY_THP" not in keys(dataclasses.replace(raised, thp_enabled="never"))
    # A configured 20000 below the THP value is overridden at boot: a notice.
    boot = BootView(values={"vm.min_free_kbytes": BootValue(
        "vm.min_free_kbytes", "20000", "20000",
        BootDefinition("etc/sysctl.d/60-mem.conf", 2, "20000"))}, sysctl_conf_read_at_boot=True)
    f = next(f for f in evaluate(dataclasses.replace(raised, boot=boot))
             if f.key == "MIN_FREE_RAISED_BY_THP")
    assert f.severity == "notice"
    assert f.params["configured_kb"] == 20_000


def test_setting_will_not_survive_reboot() -> None:
    boot = BootView(values={"vm.min_free_kbytes": BootValue(
        "vm.min_free_kbytes", "67584", "1150976",
        systemd_winner=BootDefinition("etc/sysctl.d/99-zz-tuning.conf", 3, "67584"),
        overridden=(BootDefinition("etc/sysctl.conf", 12, "1150976"),))},
        sysctl_conf_read_at_boot=True)
    d = dataclasses.replace(with_sysctl(BASE, vm__min_free_kbytes="1150976"), boot=boot)
    f = next(f for f in evaluate(d) if f.key == "SETTING_WILL_NOT_SURVIVE_REBOOT")
    assert f.params["boot"] == "67584"
    assert f.params["runtime"] == "1150976"
    assert f.params["boot_from"] == "etc/sysctl.d/99-zz-tuning.conf:3"
    same = dataclasses.replace(with_sysctl(BASE, vm__min_free_kbytes="67584"), boot=boot)
    assert "SETTING_WILL_NOT_SURVIVE_REBOOT" not in keys(same)


def test_runtime_change_without_any_file_reverts_to_the_kernel_default() -> None:
    boot = BootView(values={"vm.swappiness": BootValue("vm.swappiness", None, None)},
                    sysctl_conf_read_at_boot=True)
    d = dataclasses.replace(with_sysctl(BASE, vm__swappiness="10"), boot=boot)
    f = next(f for f in evaluate(d) if f.key == "SETTING_WILL_NOT_SURVIVE_REBOOT")
    assert f.params["boot"] == "60"
    assert f.params["boot_is_kernel_default"] is True


def test_sysctl_conf_not_read_at_boot() -> None:
    boot = BootView(values={}, sysctl_conf_read_at_boot=False, uses_systemd=True,
                    sysctl_conf_definitions=(("vm.min_free_kbytes",
                                              BootDefinition("etc/sysctl.conf", 5, "1150976")),))
    f = next(f for f in evaluate(dataclasses.replace(BASE, boot=boot))
             if f.key == "SYSCTL_CONF_NOT_READ_AT_BOOT")
    assert f.severity == "warning"
    assert f.params["keys"] == ["vm.min_free_kbytes"]
    read = dataclasses.replace(boot, sysctl_conf_read_at_boot=True)
    assert "SYSCTL_CONF_NOT_READ_AT_BOOT" not in keys(dataclasses.replace(BASE, boot=read))


def test_zone_reclaim_only_matters_on_numa() -> None:
    on = with_sysctl(BASE, vm__zone_reclaim_mode="1")
    assert "ZONE_RECLAIM_ENABLED" not in keys(on)
    assert "ZONE_RECLAIM_ENABLED" in keys(dataclasses.replace(on, numa_nodes=2))


def test_thp_defrag_always() -> None:
    assert "THP_DEFRAG_ALWAYS" in keys(dataclasses.replace(BASE, thp_defrag="always"))
    assert "THP_DEFRAG_ALWAYS" not in keys(BASE)


@pytest.mark.parametrize(("value", "swap", "problem"), [("0", 2_000_000, "zero_with_swap"),
                                                         ("150", 0, "prefers_swapping")])
def test_swappiness(value: str, swap: int, problem: str) -> None:
    d = dataclasses.replace(with_sysctl(BASE, vm__swappiness=value),
                            memory=dataclasses.replace(BASE.memory, swap_total_kb=swap))
    f = next(f for f in evaluate(d) if f.key == "SWAPPINESS")
    assert f.params["problem"] == problem
    assert "SWAPPINESS" not in keys(with_sysctl(BASE, vm__swappiness="0"))  # no swap: fine


def test_vfs_cache_pressure() -> None:
    f = next(f for f in evaluate(with_sysctl(BASE, vm__vfs_cache_pressure="0"))
             if f.key == "VFS_CACHE_PRESSURE")
    assert f.severity == "warning"
    assert "VFS_CACHE_PRESSURE" not in keys(BASE)


def test_aerospike_best_practices() -> None:
    d = dataclasses.replace(
        with_sysctl(BASE, vm__swappiness="60", vm__max_map_count="65530",
                    net__core__somaxconn="128"),
        profile="aerospike", thp_enabled="always")
    checks = {f.params["check"] for f in evaluate(d) if f.key == "AEROSPIKE_BEST_PRACTICE"}
    assert checks == {"min_free_kbytes", "swappiness", "thp_enabled", "max_map_count",
                      "somaxconn"}
    good = dataclasses.replace(with_sysctl(BASE, vm__swappiness="0",
                                           vm__min_free_kbytes="1150976"),
                               profile="aerospike")
    assert "AEROSPIKE_BEST_PRACTICE" not in keys(good)
    # The generic profile never runs Aerospike's checks.
    assert "AEROSPIKE_BEST_PRACTICE" not in keys(dataclasses.replace(d, profile="generic"))


def test_every_key_has_a_test_here() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    for key in FINDING_KEYS:
        assert f'"{key}"' in source, key


def test_every_key_has_words() -> None:
    from minfree.outputs.findings_text import SUMMARIES, TITLES

    assert set(SUMMARIES) == set(FINDING_KEYS)
    assert set(TITLES) == set(FINDING_KEYS)


def test_wording_uses_the_params_of_every_rule() -> None:
    """Each finding produced by the cases above renders without falling back to raw params."""
    from minfree.outputs.findings_text import summary

    boot = BootView(values={"vm.min_free_kbytes": BootValue(
        "vm.min_free_kbytes", "67584", "1150976",
        systemd_winner=BootDefinition("etc/sysctl.d/99-zz.conf", 3, "67584"))},
        sysctl_conf_read_at_boot=False, uses_systemd=True,
        sysctl_conf_definitions=(("vm.swappiness",
                                  BootDefinition("etc/sysctl.conf", 1, "0")),))
    frag = dataclasses.replace(BASE.zones[1], free_pages=300_000,
                               free_blocks=(200_000, 50_000) + (0,) * 9)
    d = dataclasses.replace(
        with_sysctl(BASE, vm__min_free_kbytes="1150976", vm__swappiness="150",
                    vm__vfs_cache_pressure="0", vm__zone_reclaim_mode="1",
                    vm__max_map_count="1000"),
        failures=(ATOMIC_GROUP,), boot=boot, numa_nodes=2, thp_defrag="always",
        zones=(BASE.zones[0], frag), profile="aerospike", thp_enabled="always",
        reclaim=ReclaimDelta(5, 10, 100, 3, 1000),
        memory=dataclasses.replace(BASE.memory, available_kb=10, swap_total_kb=1))
    findings = evaluate(d)
    assert len({f.key for f in findings}) >= 10
    for f in findings:
        text = summary(f)
        assert "{'" not in text, (f.key, text)
