"""The simulator: scenarios, engine invariants, determinism, fast vs exact, shipped results,
and the --emit-log round trip through ``minfree scan``'s own parser and verdicts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minfree.errors import ParseError, SourceError, UsageError
from minfree.simulation import plan as plan_mod
from minfree.simulation import run as run_mod
from minfree.simulation.buddy import check_invariants
from minfree.simulation.exact import run_exact
from minfree.simulation.host import SimHost, SimZone, preset_host
from minfree.simulation.run import simulate, sweep
from minfree.simulation.scenario import (
    load_scenario,
    order_for_mtu,
    parse_scenario,
    shipped_scenarios,
)

TINY_HOST = SimHost(
    label="tiny",
    zones=(SimZone(0, "DMA", 0, 0), SimZone(0, "DMA32", 1, 16384),
           SimZone(0, "Normal", 2, 65536)),
    release="6.6.0",
)


def tiny_scenario(read=60.0, pps=20000.0, burst=120000.0, lifetime=20.0, mtu=1500, accept=300,
                  pin_every=0, whole=False) -> str:
    return f"""
[scenario]
name = "tiny"
duration_s = 0.4
[app]
resident_fraction = 0.5
[page_cache]
read_mib_per_s = {read}
working_set_gib = 4
initial_free_above_high_mib = 1
initial_pin_every_pages = {pin_every}
initial_fill_whole_zone = {str(whole).lower()}
[[network_rx]]
name = "eth0"
mtu_bytes = {mtu}
base_pps = {pps}
burst_pps = {burst}
burst_duration_ms = 30
burst_interval_ms = 100
lifetime_ms = {lifetime}
[[tcp_accept]]
burst_connections = {accept}
burst_duration_ms = 20
burst_interval_ms = 150
lifetime_ms = 200
"""


# -- scenario files ------------------------------------------------------------------------

def test_shipped_scenarios_load_and_say_where_numbers_come_from():
    names = shipped_scenarios()
    assert {"aerospike-classic", "jumbo-frames", "fragmented-cache", "healthy"} <= set(names)
    for name in names:
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.description
        assert scenario.sources


def test_order_for_mtu():
    assert order_for_mtu(1500) == 0
    assert order_for_mtu(3500) == 0
    assert order_for_mtu(4000) == 1
    assert order_for_mtu(9000) == 2
    assert order_for_mtu(9000, page_size_bytes=65536) == 0


@pytest.mark.parametrize("text", [
    "not toml = = =",
    "[page_cache]\nread_mib_per_s = 1",  # no [scenario]
    "[scenario]\nname = 'x'\n[page_cache]\nread_mb = 1",  # unknown key (no unit typo allowed)
    "[scenario]\nname = 'x'\n[page_cache]\nread_mib_per_s = 'fast'",
    "[scenario]\nname = 'x'\n[page_cache]\nread_mib_per_s = -5",
    "[scenario]\nname = 'x'\nduration_s = 0",
    "[scenario]\nname = 'x'\n[network_rx]\nmtu_bytes = 1500",  # must be [[network_rx]]
    "[scenario]\nname = 'x'\n[[network_rx]]\nrx_queues = -1",
    "[scenario]\nname = 'x'\n[[network_rx]]\nnowarn = 1",
    "[scenario]\nname = 'x'\n[mystery]\na = 1",
])
def test_bad_scenarios_are_parse_errors(text):
    with pytest.raises(ParseError):
        parse_scenario(text, source="t.toml")


def test_unknown_scenario_and_missing_file(tmp_path):
    with pytest.raises(UsageError):
        load_scenario("no-such-scenario")
    with pytest.raises(SourceError):
        load_scenario(str(tmp_path / "absent.toml"))
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ParseError):
        load_scenario(str(bad))


# -- the exact engine's invariants after real runs -------------------------------------------

def _run_exact_keep_state(host, scenario, **kwargs):
    plan = plan_mod.build_plan(host, scenario, **kwargs)
    out = run_mod._outputs(plan)
    arrays = run_mod.exact_arrays(plan)
    run_exact(*arrays.core, arrays.zbase, arrays.zsize, *run_mod._common_args(plan),
              *out.values())
    return plan, arrays, out


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(read=st.floats(0, 400), pps=st.floats(0, 50000), burst=st.floats(0, 400000),
       lifetime=st.floats(1, 60), mtu=st.sampled_from([1500, 4000, 9000]),
       pin_every=st.integers(0, 6), whole=st.booleans(), seed=st.integers(0, 10),
       mfk=st.integers(128, 65536))
def test_exact_run_conserves_pages_and_keeps_the_buddy_invariants(read, pps, burst, lifetime, mtu,
                                                                   pin_every, whole, seed, mfk):
    scenario = parse_scenario(tiny_scenario(read, pps, burst, lifetime, mtu, pin_every=pin_every,
                                            whole=whole))
    plan, arrays, out = _run_exact_keep_state(TINY_HOST, scenario, seed=seed,
                                              min_free_kbytes=mfk, duration_s=0.3)
    for zone in range(plan.zone_count):
        # free + allocated = managed; free lists == page map; no free buddies left unmerged
        check_invariants(arrays, zone)
        assert arrays.zfree[zone] == sum(int(arrays.nr_free[zone, o]) << o for o in range(11))
    assert out["stats"][0] == out["fail_by_order"].sum() == out["fail_by_zone"].sum()


# -- determinism ---------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["exact", "fast"])
def test_same_seed_same_trace(engine):
    scenario = parse_scenario(tiny_scenario(burst=400000, lifetime=40))
    a = simulate(TINY_HOST, scenario, seed=3, engine=engine)
    b = simulate(TINY_HOST, scenario, seed=3, engine=engine)
    c = simulate(TINY_HOST, scenario, seed=4, engine=engine)
    assert a.trace_digest() == b.trace_digest()
    assert a.atomic_failures == b.atomic_failures
    assert a.direct_reclaim_stalls == b.direct_reclaim_stalls
    assert [s.time_s for s in a.snapshots] == [s.time_s for s in b.snapshots]
    assert a.trace_digest() != c.trace_digest()


# -- fast against exact --------------------------------------------------------------------

#: Stated tolerance of the fast engine (docs/simulation.md): atomic failures within 10 %
#: (or 50 failures), the same first-failure time within 10 ms, stalls within 10 % (or 5).
FAILURE_TOLERANCE = 0.10


def _close(a: float, b: float, rel: float, absolute: float) -> bool:
    return abs(a - b) <= max(absolute, rel * max(abs(a), abs(b)))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["aerospike-classic", "jumbo-frames", "fragmented-cache",
                                  "healthy"])
def test_fast_engine_within_tolerance_of_exact_on_shipped_scenarios(name):
    scenario = load_scenario(name)
    host = preset_host(scenario.host)
    for mfk in (None, 131072):
        exact = simulate(host, scenario, min_free_kbytes=mfk, duration_s=8, engine="exact")
        fast = simulate(host, scenario, min_free_kbytes=mfk, duration_s=8, engine="fast")
        assert _close(exact.atomic_failures, fast.atomic_failures, FAILURE_TOLERANCE, 50), (
            name, mfk, exact.atomic_failures, fast.atomic_failures)
        if exact.first_failure_s is None:
            assert fast.first_failure_s is None or fast.atomic_failures <= 50
        else:
            assert fast.first_failure_s is not None
            assert abs(exact.first_failure_s - fast.first_failure_s) <= 0.010
        assert _close(exact.direct_reclaim_stalls, fast.direct_reclaim_stalls, 0.10, 5)


def test_fast_engine_matches_exact_on_a_small_host():
    scenario = parse_scenario(tiny_scenario(burst=300000, lifetime=30))
    for mfk in (1024, 8192):
        exact = simulate(TINY_HOST, scenario, min_free_kbytes=mfk, engine="exact")
        fast = simulate(TINY_HOST, scenario, min_free_kbytes=mfk, engine="fast")
        assert _close(exact.atomic_failures, fast.atomic_failures, FAILURE_TOLERANCE, 50)
        assert exact.kswapd_wakes > 0


# -- what the shipped scenarios must show --------------------------------------------------

def test_aerospike_classic_fails_at_the_default_and_not_at_1_1_gib():
    scenario = load_scenario("aerospike-classic")
    host = preset_host(scenario.host)
    default = plan_mod.default_min_free_kbytes(host)
    assert default < 65536  # the square-root rule for 64 GiB without THP
    for seed in (0, 1, 2):
        at_default = simulate(host, scenario, seed=seed, engine="fast")
        assert at_default.min_free_kbytes == default
        assert at_default.atomic_failures > 0
        # not an artefact of the starting state: failures go on after the first 10 s
        steady = at_default.samples_failures[int(10 / at_default.sample_s):]
        assert steady.sum() > 0
        # both kinds of atomic traffic of the incident fail: receive (order 0), accept (order 1)
        assert set(at_default.failures_by_order) == {0, 1}
        recommended = simulate(host, scenario, seed=seed, min_free_kbytes=1153434, engine="fast")
        assert recommended.atomic_failures == 0
        # the reserve worked through the watermarks, not by starving the workload
        assert recommended.kswapd_reclaimed_pages > 0


@pytest.mark.slow
def test_aerospike_classic_with_the_exact_engine():
    scenario = load_scenario("aerospike-classic")
    host = preset_host(scenario.host)
    assert simulate(host, scenario, duration_s=20, engine="exact").atomic_failures > 0
    assert simulate(host, scenario, min_free_kbytes=1153434, duration_s=20,
                    engine="exact").atomic_failures == 0


def test_healthy_has_no_failures_and_fragmented_cache_fails_for_want_of_blocks():
    healthy = load_scenario("healthy")
    run = simulate(preset_host(healthy.host), healthy, engine="fast")
    assert run.atomic_failures == 0
    assert run.kswapd_wakes > 0  # kswapd still works: the cache churns
    fragmented = load_scenario("fragmented-cache")
    run = simulate(preset_host(fragmented.host), fragmented, duration_s=10, engine="fast")
    assert run.atomic_failures > 0
    assert run.failures_order_caused > 0
    assert set(run.failures_by_order) <= {1, 2}


def test_sweep_finds_the_smallest_safe_value_over_seeds():
    scenario = parse_scenario(tiny_scenario(burst=300000, lifetime=30))
    result = sweep(TINY_HOST, scenario, [256, 2048, 8192, 16384, 32768], seeds=(0, 1),
                   engine="fast")
    failures = [p.max_failures for p in result.points]
    assert failures[0] > 0
    safe = result.safe_min_free_kbytes
    assert safe is not None
    for point in result.points:
        if point.min_free_kbytes >= safe:
            assert point.max_failures == 0
    below = [p for p in result.points if p.min_free_kbytes < safe]
    assert below
    assert below[-1].max_failures > 0
    assert result.margin_kbytes == safe - below[-1].min_free_kbytes


def test_parse_sweep():
    assert run_mod.parse_sweep("32M:1G:5") == (32768, 1048576, 5)
    assert run_mod.parse_sweep("1000:2000") == (1000, 2000, 10)
    for bad in ("", "1:2:3:4", "a:b", "5:1", "1:2:0", "-1:5"):
        with pytest.raises(UsageError):
            run_mod.parse_sweep(bad)


def test_two_node_host_runs_on_both_engines():
    scenario = load_scenario("aerospike-classic")
    host = preset_host("256g-2node")
    run = simulate(host, scenario, duration_s=2, engine="fast")
    assert {z.node for z in run.zones} == {0, 1}
    assert run.atomic_successes > 0


# -- --emit-log round trip through minfree scan ---------------------------------------------

_VERDICT = {"watermark": "reserve-exhausted", "order": "fragmented"}


@pytest.mark.parametrize(("name", "release"), [
    ("aerospike-classic", None),
    ("aerospike-classic", "3.10.0-1160.el7.x86_64"),
    ("aerospike-classic", "4.9.0-5-amd64"),
    ("aerospike-classic", "4.14.78"),
    ("fragmented-cache", "6.12.0"),
])
def test_emitted_log_reads_back_through_scan(tmp_path, name, release):
    from minfree.analysis.failure_report import explain_scan
    from minfree.simulation.emit_log import write_log
    from minfree.sources.kernel_logs import read_failure_reports

    scenario = load_scenario(name)
    host = preset_host(scenario.host)
    if release is not None:
        host = dataclasses.replace(host, release=release)
    run = simulate(host, scenario, duration_s=12, engine="fast")
    assert run.snapshots
    path = tmp_path / "kern.log"
    written = write_log(run, str(path), host=host, scenario=scenario)
    assert written == len(run.snapshots)
    result = explain_scan(read_failure_reports([str(path)]))
    assert result.failures == len(run.snapshots)
    assert result.suppressed == sum(s.suppressed_before for s in run.snapshots)
    got = [(a.report.order, a.report.gfp_mask) for a in result.reports]
    assert got == [(s.order, s.gfp_mask) for s in run.snapshots]
    assert [a.report.process for a in result.reports] == [scenario.comm] * len(run.snapshots)
    verdicts = [a.verdict.kind for a in result.reports]
    assert verdicts == [_VERDICT[s.failed_by] for s in run.snapshots]
    contexts = {a.context.kind for a in result.reports}
    assert contexts <= {"network-receive", "tcp-accept"}
    # rewriting keeps the previous log as a backup
    write_log(run, str(path), host=host, scenario=scenario)
    assert (tmp_path / "kern.log.bak").exists()


def test_emitted_counts_match_the_run():
    scenario = load_scenario("aerospike-classic")
    run = simulate(preset_host(scenario.host), scenario, duration_s=12, engine="fast")
    printed = len(run.snapshots) + sum(s.suppressed_before for s in run.snapshots)
    assert printed <= run.atomic_failures - run.atomic_failures_nowarn
    # at most 10 reports per 5-second window, as warn_alloc's rate limit allows
    windows = np.array([int(s.time_s // 5) for s in run.snapshots])
    assert np.bincount(windows).max() <= 10


# -- the host-built scenario for doctor/recommend --simulate ---------------------------------

def test_simulate_safe_reserve_from_a_real_bundle_and_observed_failures():
    from conftest import FIXTURES
    from minfree.simulation.advisor import FailureObservation, simulate_safe_reserve
    from minfree.sources.root import open_root
    from minfree.sources.snapshot import read_snapshot

    snapshot = read_snapshot(open_root(FIXTURES / "roots" / "pcp-meminfo-root-002-numa2"))
    observed = [FailureObservation(0, 40, "network-receive"), FailureObservation(1, 6, "tcp-accept")]
    result = simulate_safe_reserve(snapshot, observed, seeds=2, steps=6, duration_s=6)
    assert result.default_min_free_kbytes > 0
    assert {a.slab_order for a in result.scenario.tcp_accept} == {1}
    assert result.scenario.network_rx
    assert any("assumed" in note for note in result.assumptions)
    points = result.sweep.points
    assert len(points) >= 6
    if result.safe_min_free_kbytes is not None:
        assert all(p.safe for p in points if p.min_free_kbytes >= result.safe_min_free_kbytes)
    doc = result.as_dict()
    assert doc["engine"] == "fast"
    assert len(doc["max_failures"]) == len(points)


# -- eras and the boost stand-in -------------------------------------------------------------

@pytest.mark.parametrize("release", ["3.10.0-1160.el7.x86_64", "4.14.5", "5.15.0", "6.12.0"])
def test_engines_agree_in_every_check_era(release):
    host = dataclasses.replace(TINY_HOST, release=release)
    scenario = parse_scenario(tiny_scenario(burst=300000, lifetime=30, mtu=9000, accept=900))
    exact = simulate(host, scenario, min_free_kbytes=2048, engine="exact")
    fast = simulate(host, scenario, min_free_kbytes=2048, engine="fast")
    assert exact.atomic_failures > 0
    assert _close(exact.atomic_failures, fast.atomic_failures, 0.25, 50)
    assert set(exact.failures_by_order) <= {1, 2}


def test_watermark_boost_stand_in_only_from_5_0():
    # headroom in whole order-10 blocks, so that atomic allocations split pageblocks
    text = tiny_scenario(burst=300000, lifetime=30).replace(
        "initial_free_above_high_mib = 1", "initial_free_above_high_mib = 64")
    text += "\n[reclaim]\nwatermark_boost = true\n"
    scenario = parse_scenario(text)
    big = SimHost(label="boost", zones=(SimZone(0, "DMA32", 1, 16384),
                                        SimZone(0, "Normal", 2, 262144)), release="5.15.0")
    boosted = simulate(big, scenario, min_free_kbytes=4096, engine="exact")
    assert boosted.boost_events > 0
    assert boosted.samples_boost.max() > 0
    # a boost never exceeds watermark_boost_factor x HIGH (boost_watermark())
    high = max(z.high_pages for z in boosted.zones)
    assert boosted.samples_boost.max() <= max(512, high * 15000 // 10000)
    old = simulate(dataclasses.replace(big, release="4.19.0"), scenario, min_free_kbytes=4096,
                   engine="exact")
    assert old.boost_events == 0
    off = simulate(big, parse_scenario(tiny_scenario(burst=300000, lifetime=30)),
                   min_free_kbytes=4096, engine="exact")
    assert off.boost_events == 0


def test_host_from_a_bundle_without_release_says_so():
    from conftest import FIXTURES
    from minfree.simulation.host import host_from_snapshot
    from minfree.sources.root import open_root
    from minfree.sources.snapshot import read_snapshot

    snapshot = read_snapshot(open_root(FIXTURES / "roots" / "pcp-meminfo-root-002-numa2"))
    host = host_from_snapshot(snapshot, label="bundle")
    assert {z.node for z in host.zones} == {0, 1}
    if snapshot.release is None:
        assert host.notes


# -- compaction (kcompactd) ------------------------------------------------------------------

def _with_compaction(text: str, rate: float = 1_000_000) -> str:
    return text + f"\n[compaction]\nenabled = true\nscan_rate_pages_per_s = {rate}\n"


def test_compaction_table_parses_and_is_off_by_default():
    assert load_scenario("fragmented-cache").compaction.enabled is False
    scenario = parse_scenario(_with_compaction(tiny_scenario(), 5000))
    assert scenario.compaction.enabled
    assert scenario.compaction.scan_rate_pages_per_s == 5000
    assert scenario.compaction.extfrag_threshold == 500
    for bad in ("extfrag_threshold = 1001", "scan_rate_pages_per_s = -1", "enabled = 1",
                "speed = 3"):
        with pytest.raises(ParseError):
            parse_scenario(tiny_scenario() + f"\n[compaction]\n{bad}\n")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(read=st.floats(0, 400), burst=st.floats(0, 400000), lifetime=st.floats(1, 60),
       mtu=st.sampled_from([4000, 9000, 20000]), pin_every=st.integers(0, 6),
       whole=st.booleans(), seed=st.integers(0, 10), mfk=st.integers(128, 65536),
       rate=st.sampled_from([1000.0, 100000.0, 5000000.0]))
def test_exact_run_with_compaction_keeps_the_buddy_invariants(read, burst, lifetime, mtu,
                                                              pin_every, whole, seed, mfk, rate):
    text = tiny_scenario(read, 20000, burst, lifetime, mtu, pin_every=pin_every, whole=whole)
    scenario = parse_scenario(_with_compaction(text, rate))
    plan, arrays, out = _run_exact_keep_state(TINY_HOST, scenario, seed=seed,
                                              min_free_kbytes=mfk, duration_s=0.3)
    for zone in range(plan.zone_count):
        check_invariants(arrays, zone)
        assert arrays.zfree[zone] == sum(int(arrays.nr_free[zone, o]) << o for o in range(11))
    stats = out["stats"]
    assert stats[18] <= stats[22]  # migrated <= scanned
    assert stats[19] + stats[20] <= stats[17] * plan.zone_count  # outcomes per wake and zone


_FRAGMENTED_RUNS: dict = {}


def _fragmented(engine: str, compaction: bool):
    key = (engine, compaction)
    if key not in _FRAGMENTED_RUNS:
        from importlib import resources

        text = (resources.files("minfree.simulation") / "scenarios"
                / "fragmented-cache.toml").read_text(encoding="utf-8")
        scenario = parse_scenario(_with_compaction(text) if compaction else text)
        _FRAGMENTED_RUNS[key] = simulate(preset_host(scenario.host), scenario, duration_s=8,
                                         engine=engine)
    return _FRAGMENTED_RUNS[key]


@pytest.mark.parametrize("engine", ["exact", "fast"])
def test_compaction_reduces_order_failures_in_fragmented_cache(engine):
    off = _fragmented(engine, False)
    on = _fragmented(engine, True)
    assert off.compaction_wakes == off.compaction_pages_migrated == 0
    assert on.compaction_wakes > 0
    assert on.compaction_pages_migrated > 0
    assert on.compaction_successes > 0
    # the same workload, the same reserve: fewer order-2 failures only because kcompactd
    # made order-2 blocks out of pages reclaim alone left in order-0/1 pieces
    assert on.failures_by_order.get(2, 0) < off.failures_by_order.get(2, 0)
    assert on.atomic_failures < off.atomic_failures


def test_fast_engine_within_tolerance_of_exact_with_compaction():
    exact = _fragmented("exact", True)
    fast = _fragmented("fast", True)
    assert _close(exact.atomic_failures, fast.atomic_failures, FAILURE_TOLERANCE, 50)
    assert abs(exact.first_failure_s - fast.first_failure_s) <= 0.010
    assert _close(exact.direct_reclaim_stalls, fast.direct_reclaim_stalls, 0.10, 5)
    # the count-level stand-in works at the same order of magnitude of pages moved
    assert 0.2 <= fast.compaction_pages_migrated / exact.compaction_pages_migrated <= 5


def test_compaction_suitability_uses_the_kernel_index_and_watermark():
    from minfree.kernel.fragmentation import fragmentation_index
    from minfree.simulation.checks import empty_type_matrix
    from minfree.simulation.compaction import zone_needs_compaction

    wm_min = np.array([100], dtype=np.int64)
    wm_low = np.array([150], dtype=np.int64)
    types = empty_type_matrix(1, 11)
    era = plan_mod.build_plan(TINY_HOST, parse_scenario(tiny_scenario())).check_era

    def check(blocks, order, threshold=500):
        nr_free = np.array([blocks + [0] * (11 - len(blocks))], dtype=np.int64)
        zfree = np.array([sum(n << k for k, n in enumerate(blocks))], dtype=np.int64)
        return zone_needs_compaction(era, zfree, nr_free, 0, order, wm_min, wm_low, 0,
                                     threshold, types, 9)

    # order 4 (> PAGE_ALLOC_COSTLY_ORDER): many small blocks -> index near 1000: compact
    many = [400, 200, 50]
    assert fragmentation_index(many, 4) > 500
    assert check(many, 4) == (True, 0)
    # a few order-3 blocks holding the free memory: index below 500 -> lack of memory
    few = [0, 0, 0, 30]
    assert 0 <= fragmentation_index(few, 4) <= 500
    assert check(few, 4) == (False, 3)
    # order 3 is never refused by the index; it needs min + 2 << 3 free pages
    assert check(few, 3) == (False, 1)  # an order-3 block exists: already satisfiable
    assert check([100, 4], 2) == (False, 2)  # 108 free, not above min 100 + compact_gap 8
    assert check([150, 4], 2) == (True, 0)
    # costly orders need LOW + compact_gap: 150 + 32 = 182
    assert check([170, 5], 4)[1] == 2


@pytest.mark.parametrize("engine", ["exact", "fast"])
def test_costly_order_compaction_runs_through_the_fragmentation_index(engine):
    """Order-4 receive buffers (> PAGE_ALLOC_COSTLY_ORDER): kcompactd's suitability goes
    through the kernel module's fragmentation_index inside the compiled engines."""
    text = tiny_scenario(60, 20000, 200000, 20, 1500, pin_every=3, whole=True)
    text = text.replace('mtu_bytes = 1500', 'mtu_bytes = 1500\norder = 4')
    scenario = parse_scenario(_with_compaction(text))
    assert scenario.network_rx[0].order == 4
    if engine == "exact":
        plan, arrays, out = _run_exact_keep_state(TINY_HOST, scenario, min_free_kbytes=1024,
                                                  duration_s=0.3)
        for zone in range(plan.zone_count):
            check_invariants(arrays, zone)
        stats = out["stats"]
        assert out["fail_by_order"][4] > 0
    else:
        run = simulate(TINY_HOST, scenario, min_free_kbytes=1024, duration_s=0.3, engine=engine)
        assert run.failures_by_order.get(4, 0) > 0
        stats = [0] * 17 + [run.compaction_wakes, run.compaction_pages_migrated,
                            run.compaction_successes, run.compaction_failures,
                            run.compaction_skipped, run.compaction_scanned_pages]
    # kcompactd was woken for order 4 and every zone it looked at got an outcome
    assert stats[17] > 0
    assert stats[19] + stats[20] + stats[21] > 0


def test_compaction_suitability_before_4_9():
    """3.10-era rules: LOW + compact_gap and the fragmentation index for every order."""
    from minfree.kernel.fragmentation import fragmentation_index
    from minfree.simulation.checks import empty_type_matrix
    from minfree.simulation.compaction import LEGACY_FLAG, zone_needs_compaction

    old_host = dataclasses.replace(TINY_HOST, release="3.10.0-1160.el7.x86_64")
    assert plan_mod.build_plan(old_host, parse_scenario(tiny_scenario())).compact_legacy
    assert not plan_mod.build_plan(TINY_HOST, parse_scenario(tiny_scenario())).compact_legacy
    wm_min = np.array([100], dtype=np.int64)
    wm_low = np.array([150], dtype=np.int64)
    types = empty_type_matrix(1, 11)
    era = plan_mod.build_plan(old_host, parse_scenario(tiny_scenario())).check_era

    def check(blocks, order, legacy):
        nr_free = np.array([blocks + [0] * (11 - len(blocks))], dtype=np.int64)
        zfree = np.array([sum(n << k for k, n in enumerate(blocks))], dtype=np.int64)
        return zone_needs_compaction(era, zfree, nr_free, 0, order, wm_min, wm_low, 0,
                                     500 + (LEGACY_FLAG if legacy else 0), types, 9)

    # 150 free order-0 pages + 4 order-1: above MIN + 8, not above LOW + 8
    assert check([150, 4], 2, legacy=False) == (True, 0)
    assert check([150, 4], 2, legacy=True) == (False, 2)
    # order 2 with the free memory in a few order-1 blocks: index <= 500 -> lack of memory
    few = [0, 100]
    assert 0 <= fragmentation_index(few, 2) <= 500
    assert check(few, 2, legacy=False) == (True, 0)
    assert check(few, 2, legacy=True) == (False, 3)
