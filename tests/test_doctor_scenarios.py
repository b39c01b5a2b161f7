"""The doctor on scenario roots built from real captures (tests/fixtures/scenarios).

Each scenario asserts the verdict, the finding keys and the recommended range; together
with tests/test_findings_rules.py every finding key is seen triggered on real files where a
real file can show it, and not triggered on the healthy host.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from conftest import FIXTURES
from minfree.analysis.findings import FINDING_KEYS, evaluate
from minfree.outputs.doctor_json import diagnose_root, doctor_document

SCENARIOS = FIXTURES / "scenarios"
LOGS = FIXTURES / "kernel-logs" / "reports"


@functools.cache
def doctor(name: str, profile: str = "generic", logs: tuple[str, ...] = ()) -> dict[str, Any]:
    d = diagnose_root(str(SCENARIOS / name), profile=profile, logs=list(logs) or None)
    return doctor_document(d, evaluate(d))


def keys(doc: dict[str, Any]) -> set[str]:
    return {f["key"] for f in doc["findings"]}


def rec(doc: dict[str, Any], sysctl: str) -> dict[str, Any] | None:
    return next((r for r in doc["recommendations"] if r["sysctl"] == sysctl), None)


def test_healthy_host() -> None:
    doc = doctor("healthy")
    assert doc["verdict"]["status"] == "healthy"
    assert keys(doc) == {"MIN_FREE_RAISED_BY_THP"}
    assert doc["recommendations"] == []
    assert doc["candidates"]["kernel_default"] == 9125  # 4 x sqrt(5204180 kB of lowmem)
    assert doc["candidates"]["thp"] == 67584
    assert doc["chosen"]["min_free_kbytes"] == 67584
    # Not a single warning-level key fires on the healthy host.
    assert not keys(doc) & (set(FINDING_KEYS) - {"MIN_FREE_RAISED_BY_THP"})


def test_classic_case() -> None:
    doc = doctor("classic-rhel7-aerospike")
    assert doc["verdict"]["status"] == "failing"
    assert doc["verdict"]["finding"] == "PAGE_ALLOCATION_FAILURES"
    assert keys(doc) == {"PAGE_ALLOCATION_FAILURES", "CACHE_CROWDS_FREE_MEMORY",
                         "MIN_FREE_RAISED_BY_THP"}
    asd = next(g for g in doc["failures"] if g["process"] == "asd")
    assert (asd["order"], asd["context"], asd["atomic"]) == (1, "tcp-accept", True)
    assert doc["host"]["kernel_release"].startswith("3.10.0")
    r = rec(doc, "vm.min_free_kbytes")
    assert r is not None
    assert r["kind"] == "at-least"
    # Aerospike's 1,150,976 kB (the failing process is asd), capped at 5% of 4 GB.
    assert doc["candidates"]["aerospike"] == 1_150_976
    assert 195_000 <= int(r["recommended"]) <= 201_302
    assert doc["chosen"]["capped_by"] == "5% of RAM"
    assert doc["apply_command"] == f"minfree apply --min-free-kbytes {r['recommended']}"


def test_classic_case_with_the_aerospike_profile() -> None:
    doc = doctor("classic-rhel7-aerospike", profile="aerospike")
    checks = {f["params"]["check"] for f in doc["findings"]
              if f["key"] == "AEROSPIKE_BEST_PRACTICE"}
    # CentOS 7.7's sysctl output: swappiness 30, THP always (RHEL 7 default).
    assert {"min_free_kbytes", "swappiness", "thp_enabled"} <= checks
    assert rec(doc, "vm.swappiness")["recommended"] == "0"
    assert any(m["what"] == "aerospike.conf" for m in doc["missing"])


def test_fragmented_host() -> None:
    doc = doctor("fragmented-high-order")
    assert doc["verdict"]["status"] == "at risk"
    assert {"PAGE_ALLOCATION_FAILURES", "HIGH_ORDER_FRAGMENTATION"} <= keys(doc)
    paf = next(f for f in doc["findings"] if f["key"] == "PAGE_ALLOCATION_FAILURES")
    assert paf["severity"] == "warning"  # order 9 is costly: callers have fallbacks
    frag = [f for f in doc["findings"] if f["key"] == "HIGH_ORDER_FRAGMENTATION"]
    assert {f["params"]["zone"] for f in frag} == {"DMA32", "Normal"}
    assert all(f["params"]["highest_free_order"] == 7 for f in frag)
    assert rec(doc, "vm.watermark_boost_factor")["recommended"] == "15000"
    assert rec(doc, "vm.min_free_kbytes") is None


def test_kswapd_falling_behind() -> None:
    doc = doctor("kswapd-behind")
    assert doc["verdict"]["status"] == "at risk"
    assert "KSWAPD_FALLING_BEHIND" in keys(doc)
    k = next(f for f in doc["findings"] if f["key"] == "KSWAPD_FALLING_BEHIND")
    assert k["params"]["interval_s"] == pytest.approx(10.0)
    assert k["params"]["allocstall"] == 2000
    r = rec(doc, "vm.watermark_scale_factor")
    assert r["current"] == "10"
    assert 140 <= int(r["recommended"]) <= 160
    assert rec(doc, "vm.min_free_kbytes") is None
    assert not any(m["what"] == "reclaim rates" for m in doc["missing"])


def test_reserve_far_too_high() -> None:
    doc = doctor("reserve-too-high")
    assert doc["verdict"]["status"] == "at risk"
    assert keys(doc) == {"MIN_FREE_TOO_HIGH"}
    r = rec(doc, "vm.min_free_kbytes")
    assert (r["current"], r["kind"]) == ("2457600", "exactly")
    assert 60_000 <= int(r["recommended"]) <= 70_000
    assert doc["cost"]["memory_taken_from_applications_kb"] < -3_000_000


def test_thp_raises_the_reserve() -> None:
    doc = doctor("thp-raises-reserve")
    assert doc["verdict"]["status"] == "healthy"
    assert "MIN_FREE_RAISED_BY_THP" in keys(doc)
    f = next(f for f in doc["findings"] if f["key"] == "MIN_FREE_RAISED_BY_THP")
    assert f["severity"] == "notice"
    assert (f["params"]["configured_kb"], f["params"]["thp_kb"]) == (32768, 67584)
    # khugepaged restores 67584 after every boot: nothing is lost at reboot.
    assert "SETTING_WILL_NOT_SURVIVE_REBOOT" not in keys(doc)
    assert rec(doc, "vm.min_free_kbytes") is None


def test_sysctl_file_overrides_the_new_value_at_boot() -> None:
    doc = doctor("boot-override")
    assert doc["verdict"]["status"] == "at risk"
    f = next(f for f in doc["findings"] if f["key"] == "SETTING_WILL_NOT_SURVIVE_REBOOT"
             and f["params"]["sysctl"] == "vm.min_free_kbytes")
    assert f["params"]["runtime"] == "262144"
    assert f["params"]["boot"] == "67584"
    assert f["params"]["boot_from"] == "/etc/sysctl.d/99-zz-hardening.conf:2"
    assert f["params"]["procps_boot"] == "262144"  # `sysctl --system` applies sysctl.conf last
    assert "/etc/sysctl.conf:71" in [e["source"] for e in f["evidence"]]
    assert "SYSCTL_CONF_NOT_READ_AT_BOOT" not in keys(doc)  # Ubuntu keeps the link
    assert any(m["what"] == "proc/meminfo" for m in doc["missing"])


def test_debian13_without_the_sysctl_conf_link() -> None:
    doc = doctor("debian13-no-sysctl-conf-link")
    assert doc["verdict"]["status"] == "at risk"
    assert "SYSCTL_CONF_NOT_READ_AT_BOOT" in keys(doc)
    lost = {f["params"]["sysctl"]: f["params"]["boot"] for f in doc["findings"]
            if f["key"] == "SETTING_WILL_NOT_SURVIVE_REBOOT"}
    assert lost == {"vm.min_free_kbytes": "67584", "vm.swappiness": "60"}
    conf = next(f for f in doc["findings"] if f["key"] == "SYSCTL_CONF_NOT_READ_AT_BOOT")
    assert conf["params"]["keys"] == ["vm.min_free_kbytes", "vm.swappiness"]


def test_reserve_exhausted_report_from_a_real_log() -> None:
    # 050.log: a complete 6.19 report whose zones were all under their min (+ reserve).
    doc = doctor("healthy", logs=(str(LOGS / "050.log"),))
    assert doc["verdict"]["status"] == "failing"
    assert {"PAGE_ALLOCATION_FAILURES", "ATOMIC_RESERVE_EXHAUSTED",
            "CACHE_CROWDS_FREE_MEMORY"} <= keys(doc)
    assert doc["candidates"]["failure_deficit"] is not None
    assert doc["candidates"]["failure_deficit"] > 67584


def test_fragmented_report_from_a_real_log() -> None:
    # 002.log: three e1000e order-1 failures the old per-order check refused.
    doc = doctor("healthy", logs=(str(LOGS / "002.log"),))
    assert "HIGH_ORDER_FRAGMENTATION" in keys(doc)
    assert "ATOMIC_RESERVE_EXHAUSTED" not in keys(doc)
    assert doc["failures"][0]["count"] == 3


def test_every_scenario_is_documented() -> None:
    for path in SCENARIOS.iterdir():
        if path.is_dir() and not path.name.startswith("_"):
            text = (path / "SCENARIO.md").read_text()
            assert "Expected" in text, path.name


def test_container_meminfo_is_not_mixed_with_host_zones() -> None:
    # LXD container: lxcfs meminfo says 1 GiB with 2.6 MB free; zoneinfo is the 16 GB host.
    d = diagnose_root(str(FIXTURES / "roots" / "hotsos-rabbitmq-lxd-5.4.0-97"))
    doc = doctor_document(d, evaluate(d))
    assert d.memory is None
    assert not keys(doc) & {"MIN_FREE_TOO_HIGH", "CACHE_CROWDS_FREE_MEMORY"}
    reason = next(m["reason"] for m in doc["missing"] if m["what"] == "proc/meminfo")
    assert "container" in reason
    assert doc["chosen"]["cap_kb"] == int(d.total_ram_kb * 0.05)
    assert d.total_ram_kb > 16_000_000  # the host's zones, not the 1 GiB limit


def test_rate_limited_reports_count() -> None:
    # 028.log: 'warn_alloc_failed: 5676 callbacks suppressed' before one order-3 report.
    doc = doctor("healthy", logs=(str(LOGS / "028.log"),))
    paf = next(f for f in doc["findings"] if f["key"] == "PAGE_ALLOCATION_FAILURES")
    assert (paf["params"]["reports"], paf["params"]["suppressed"]) == (1, 5676)
    assert paf["params"]["total"] == 5677
    assert doc["failures"][0]["suppressed"] == 5676
