"""The exact engine with ``[migratetypes]``: free lists per type, pageblock claims, the
highatomic reserve and boost on real fallbacks (mm/page_alloc.c v6.1 rules).

The allocator itself is checked against the pure-Python reference in tests/test_buddy.py;
these tests check the engine around it: invariants after whole runs, that the machinery is
invisible when every allocation is movable, the plan's types and flags per GFP mode and era,
and that the shipped Aerospike case keeps its answer with migratetypes on.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minfree.errors import UsageError
from minfree.simulation import plan as plan_mod
from minfree.simulation import run as run_mod
from minfree.simulation.buddy import (
    MIGRATE_HIGHATOMIC,
    MIGRATE_MOVABLE,
    MIGRATE_UNMOVABLE,
    check_invariants,
)
from minfree.simulation.exact import ST_BOOST_EVENTS, run_exact
from minfree.simulation.host import preset_host
from minfree.simulation.run import simulate
from minfree.simulation.scenario import load_scenario, parse_scenario
from test_simulation import TINY_HOST, tiny_scenario

MIGRATETYPES = "\n[migratetypes]\nenabled = true\n"


def _run(plan):
    out = run_mod._outputs(plan)
    arrays = run_mod.exact_arrays(plan)
    run_exact(*arrays.core, arrays.zbase, arrays.zsize, *run_mod._common_args(plan),
              *out.values())
    return arrays, out


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(read=st.floats(0, 400), pps=st.floats(0, 50000), burst=st.floats(0, 400000),
       mtu=st.sampled_from([1500, 9000]), pin_every=st.integers(0, 6), whole=st.booleans(),
       seed=st.integers(0, 10), mfk=st.integers(128, 65536), boost=st.booleans())
def test_runs_with_migratetypes_keep_every_invariant(read, pps, burst, mtu, pin_every, whole,
                                                     seed, mfk, boost):
    text = tiny_scenario(read, pps, burst, 20.0, mtu, pin_every=pin_every, whole=whole)
    if boost:
        text += "\n[reclaim]\nwatermark_boost = true\n"
    plan = plan_mod.build_plan(TINY_HOST, parse_scenario(text + MIGRATETYPES), seed=seed,
                               min_free_kbytes=mfk, duration_s=0.3)
    arrays, out = _run(plan)
    for zone in range(plan.zone_count):
        check_invariants(arrays, zone)  # includes the per-type lists and the reserve count
    assert out["stats"][0] == out["fail_by_order"].sum()


def test_all_movable_allocations_make_the_machinery_invisible():
    """With migratetypes on but every actor movable and no highatomic flag, nothing can fall
    back or be reserved, and the watermark check's per-type counts say what the plain counts
    say: the run must equal the run without migratetypes, output for output."""
    text = tiny_scenario(120, 30000, 300000, 20.0, 9000, pin_every=3, whole=True)
    text += "\n[reclaim]\nwatermark_boost = true\n"
    plain = plan_mod.build_plan(TINY_HOST, parse_scenario(text), min_free_kbytes=2048,
                                duration_s=0.4)
    typed = plan_mod.build_plan(TINY_HOST, parse_scenario(text + MIGRATETYPES),
                                min_free_kbytes=2048, duration_s=0.4)
    typed.actors = [dataclasses.replace(a, migratetype=MIGRATE_MOVABLE, highatomic=False)
                    for a in typed.actors]
    _, out_plain = _run(plain)
    arrays, out_typed = _run(typed)
    assert out_plain["stats"][0] > 0, "the comparison needs failures to be meaningful"
    for key, value in out_plain.items():
        assert np.array_equal(value, out_typed[key]), key
    assert arrays.mts.types[:, 11, 1].tolist() == [1] * plain.zone_count  # counts were used


def test_atomic_order_one_allocations_reserve_highatomic_pageblocks():
    text = tiny_scenario(60, 20000, 120000, 20.0, 1500, accept=3000) + MIGRATETYPES
    plan = plan_mod.build_plan(TINY_HOST, parse_scenario(text), min_free_kbytes=4096,
                               duration_s=0.4)
    accept = next(a for a in plan.actors if a.name.startswith("tcp-accept"))
    assert accept.order == 1
    assert accept.migratetype == MIGRATE_UNMOVABLE
    assert accept.highatomic
    arrays, out = _run(plan)
    assert out["stats"][10] > 0  # atomic allocations succeeded
    reserved = [arrays.reserved_highatomic(z) for z in range(plan.zone_count)]
    assert sum(reserved) > 0
    assert int((arrays.mts.pb_mt == MIGRATE_HIGHATOMIC).sum()) > 0
    # a pageblock is added while the reserve is under 1 % of the zone plus a pageblock, so
    # it ends below that limit plus one more pageblock
    for z in range(plan.zone_count):
        limit = plan.zone_managed[z] // 100 + plan.pageblock_pages
        assert reserved[z] < limit + plan.pageblock_pages


def test_boost_comes_from_real_fallbacks_with_migratetypes():
    text = tiny_scenario(200, 30000, 300000, 20.0, 1500, pin_every=2, whole=True)
    text += "\n[reclaim]\nwatermark_boost = true\n" + MIGRATETYPES
    plan = plan_mod.build_plan(TINY_HOST, parse_scenario(text), min_free_kbytes=2048,
                               duration_s=0.4)
    assert plan.max_boost.max() > 0
    arrays, out = _run(plan)
    assert arrays.mts.note[1] > 0, "allocations fell back to other types"
    assert out["stats"][ST_BOOST_EVENTS] > 0


@pytest.mark.parametrize(("release", "gfp", "order", "highatomic"), [
    ("6.6.0", "GFP_ATOMIC", 1, True),
    ("6.6.0", "GFP_ATOMIC", 0, False),  # order 0: no reserve
    ("6.6.0", "GFP_NOWAIT", 1, True),  # 6.3+: any order > 0 caller that cannot reclaim
    ("5.15.0", "GFP_NOWAIT", 1, False),  # up to 6.2: ALLOC_HARDER needs __GFP_ATOMIC
    ("5.15.0", "GFP_ATOMIC", 1, True),
    ("4.4.0", "GFP_ATOMIC", 1, True),
    ("4.3.0", "GFP_ATOMIC", 1, False),  # no highatomic reserve before 4.4
])
def test_highatomic_flag_per_era(release, gfp, order, highatomic):
    from minfree.simulation import kernel_bridge

    _, _, flags, _ = kernel_bridge.gfp_alloc_flags(gfp, release)
    assert kernel_bridge.highatomic_reserve(flags, order, release) is highatomic
    assert kernel_bridge.gfp_migratetype(gfp, release) == MIGRATE_UNMOVABLE
    assert kernel_bridge.gfp_migratetype("GFP_HIGHUSER_MOVABLE", release) == MIGRATE_MOVABLE


def test_migratetypes_refused_before_4_4():
    old = dataclasses.replace(TINY_HOST, release="3.10.0-1160.el7.x86_64")
    with pytest.raises(UsageError, match=r"4\.4\+ kernels"):
        plan_mod.build_plan(old, parse_scenario(tiny_scenario() + MIGRATETYPES))


@pytest.mark.slow
def test_aerospike_classic_keeps_its_answer_with_migratetypes():
    """At the kernel default there are atomic failures, at 1.1 GiB none, as without."""
    base = load_scenario("aerospike-classic")
    scenario = dataclasses.replace(base, migratetypes=dataclasses.replace(
        base.migratetypes, enabled=True))
    host = preset_host(scenario.host)
    low = simulate(host, scenario, duration_s=8.0, engine="exact")
    high = simulate(host, scenario, min_free_kbytes=1153434, duration_s=8.0, engine="exact")
    assert low.atomic_failures > 0
    assert high.atomic_failures == 0


@pytest.mark.parametrize("migratetypes", [False, True])
def test_the_engine_s_logged_operations_replay_to_the_same_state(migratetypes):
    """The benchmark replays the exact engine's own allocator operations: the log must hold
    every one of them, so replaying it from a fresh allocator gives the frames the engine
    got and the engine's final free lists, page map and pageblock types."""
    from minfree.simulation.buddy import buddy_run_ops
    from minfree.simulation.exact import ST_TRACE_START

    text = tiny_scenario(200, 30000, 300000, 20.0, 1500, accept=3000, pin_every=2, whole=True)
    text += "\n[reclaim]\nwatermark_boost = true\n" + (MIGRATETYPES if migratetypes else "")
    plan = plan_mod.build_plan(TINY_HOST, parse_scenario(text), min_free_kbytes=2048,
                               duration_s=0.4)
    out = run_mod._outputs(plan)
    arrays = run_mod.exact_arrays(plan, log_capacity=2_000_000)
    run_exact(*arrays.core, arrays.zbase, arrays.zsize, *run_mod._common_args(plan),
              *out.values())
    ops = arrays.logged_operations().copy()
    assert 0 < int(out["stats"][ST_TRACE_START]) < len(ops) < 2_000_000
    assert out["stats"][ST_BOOST_EVENTS] > 0 or not migratetypes
    replay = run_mod.exact_arrays(plan)
    got = np.zeros(len(ops), dtype=np.int64)
    buddy_run_ops(*replay.core, replay.zbase, replay.zsize, ops, got)
    allocations = ops[:, 0] == 0
    assert (got[allocations] == ops[allocations, 3]).all()
    if migratetypes:
        assert (ops[:, 0] == 2).any() or arrays.mts.types[:, 11, 0].sum() > 0
    for name in ("free_order", "alloc_order", "nxt", "prv", "heads", "nr_free", "zfree"):
        assert np.array_equal(getattr(replay, name), getattr(arrays, name)), name
    assert np.array_equal(replay.mts.pb_mt, arrays.mts.pb_mt)
    assert np.array_equal(replay.mts.types[:, :11], arrays.mts.types[:, :11])
