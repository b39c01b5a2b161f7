"""Properties of the findings and the sizing on random hosts: the caps always hold."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minfree.analysis.diagnosis import (
    Diagnosis,
    FailureGroup,
    FailureZoneState,
    MemoryPicture,
    NicInfo,
)
from minfree.analysis.findings import SEVERITY_RANK, evaluate, verdict
from minfree.model.zone import Zone
from minfree.recommend import make_predictor, recommend


@st.composite
def hosts(draw: st.DrawFn) -> Diagnosis:
    managed = [draw(st.integers(0, 4_000)), draw(st.integers(1_000, 800_000)),
               draw(st.integers(1_000, 8_000_000))]
    zones = []
    for index, (name, pages) in enumerate(zip(("DMA", "DMA32", "Normal"), managed, strict=True)):
        mn = draw(st.integers(0, max(1, pages // 50)))
        free = draw(st.integers(0, pages))
        blocks = tuple(draw(st.lists(st.integers(0, 500), min_size=11, max_size=11)))
        zones.append(Zone(0, name, index, free, mn, mn + mn // 4, mn + mn // 2,
                          managed_pages=pages, free_blocks=blocks))
    total_kb = sum(managed) * 4
    free_kb = sum(z.free_pages for z in zones) * 4
    memory = MemoryPicture(total_kb=total_kb, free_kb=free_kb,
                           available_kb=draw(st.integers(0, total_kb)),
                           file_cache_kb=draw(st.integers(0, total_kb)),
                           swap_total_kb=draw(st.sampled_from([0, 2_000_000])))
    failures = ()
    if draw(st.booleans()):
        zone = FailureZoneState("Normal", free_kb=draw(st.integers(0, 100_000)),
                                min_kb=draw(st.integers(1, 100_000)),
                                effective_min_kb=draw(st.integers(0, 50_000)),
                                low_kb=draw(st.integers(1, 120_000)),
                                failed_by=draw(st.sampled_from(["watermark", "order"])),
                                file_cache_kb=draw(st.integers(0, 10_000_000)))
        failures = (FailureGroup(draw(st.sampled_from(["asd", "java", "swapper"])),
                                 draw(st.integers(0, 10)), "0x20", "network-receive",
                                 draw(st.integers(1, 50)), atomic=draw(st.booleans()),
                                 verdict=draw(st.sampled_from(["reserve-exhausted",
                                                               "fragmented", "unknown"])),
                                 zones=(zone,)),)
    sysctl = {
        "vm.min_free_kbytes": str(draw(st.integers(128, max(129, total_kb // 5)))),
        "vm.watermark_scale_factor": str(draw(st.integers(1, 1000))),
        "vm.swappiness": str(draw(st.integers(0, 200))),
        "vm.vfs_cache_pressure": str(draw(st.integers(0, 500))),
        "vm.zone_reclaim_mode": str(draw(st.integers(0, 7))),
        "vm.watermark_boost_factor": str(draw(st.sampled_from([0, 15000]))),
        "vm.lowmem_reserve_ratio": "256 256 32 0 0",
    }
    return Diagnosis(
        label="random", release=draw(st.sampled_from(["3.10.0-1160.el7", "5.4.0", "6.8.0"])),
        memory=memory, zones=tuple(zones), sysctl=sysctl,
        thp_enabled=draw(st.sampled_from([None, "always", "madvise", "never"])),
        thp_defrag=draw(st.sampled_from([None, "always", "madvise"])),
        numa_nodes=draw(st.integers(1, 4)),
        interfaces=(NicInfo("eth0", draw(st.sampled_from(["ixgbe", "ena", "weird"])),
                            draw(st.sampled_from([1500, 9000])), draw(st.integers(1, 64)),
                            None),),
        failures=failures,
        kernel_default_min_free_kb=draw(st.integers(128, 262144)),
        thp_recommended_min_free_kb=draw(st.integers(22528, 90112)),
        profile=draw(st.sampled_from(["generic", "aerospike"])),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hosts(), st.booleans())
def test_caps_and_verdict_hold(d: Diagnosis, allow_high: bool) -> None:
    findings = evaluate(d)
    ranks = [SEVERITY_RANK[f.severity] for f in findings]
    assert ranks == sorted(ranks)
    v = verdict(findings)
    expected = {0: "failing", 1: "at risk"}.get(ranks[0] if ranks else 9, "healthy")
    assert v.status == expected
    r = recommend(d, findings, allow_high=allow_high)
    total = d.memory.total_kb
    cap = total * (0.10 if allow_high else 0.05)
    if r.chosen_kb is not None and r.capped_by is not None:
        assert r.chosen_kb <= cap or "available" in r.capped_by
    for rec in r.recommendations:
        assert rec.kind in ("at-least", "exactly")
        if rec.sysctl == "vm.min_free_kbytes":
            value = int(rec.recommended)
            assert value <= cap
            if rec.kind == "at-least":
                assert value > int(d.sysctl["vm.min_free_kbytes"])
            predict = make_predictor(d)
            predicted = predict(value) if predict else None
            floor = min(int(d.sysctl["vm.min_free_kbytes"]), value)
            if predicted is not None and value > floor:
                assert predicted[2] <= d.memory.available_kb
        if rec.sysctl == "vm.watermark_scale_factor":
            assert 1 <= int(rec.recommended) <= 3000
    command = r.apply_command()
    if command:
        assert command.startswith("minfree apply ")
