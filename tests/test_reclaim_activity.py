"""Reclaim activity from two vmstat samples: era names, rates, resets, and the running kernel
counting a real page-cache drop."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import FIXTURES
from minfree.analysis.reclaim_activity import ACTIVITY_COUNTERS, reclaim_activity
from minfree.parsers.vmstat import parse_vmstat


def bumped(text: str, bumps: dict[str, int]) -> str:
    """The same real vmstat text with some counters increased (a later sample)."""
    out = []
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in bumps:
            value = str(int(value) + bumps[name])
        out.append(f"{name} {value}")
    return "\n".join(out) + "\n"


class TestEras:
    def test_3_2_per_zone_names(self) -> None:
        text = (FIXTURES / "roots/ubuntu-3.2.0-58-generic/proc/vmstat").read_text()
        later = bumped(
            text,
            {
                "allocstall": 4,
                "pgscan_kswapd_normal": 300,
                "pgscan_kswapd_dma32": 100,
                # 3.2 still counts steals as pgsteal_<zone> plus kswapd_steal
                "pgsteal_normal": 250,
                "kswapd_steal": 200,
                "compact_stall": 2,
            },
        )
        act = reclaim_activity(parse_vmstat(text), parse_vmstat(later), 4.0)
        assert act.deltas["allocstall"] == 4
        assert act.deltas["pgscan_kswapd"] == 400
        assert act.rate("pgscan_kswapd") == 100.0
        assert act.deltas["pgsteal_kswapd"] == 200
        assert act.deltas["pgsteal_direct"] == 50
        assert act.kswapd_efficiency == 0.5
        assert act.deltas["compact_stall"] == 2
        assert act.direct_reclaim_seen
        # 3.2 predates drop_pagecache (absent 3.10.4, present 4.4) and oom_kill (4.13).
        assert "drop_pagecache" in act.unavailable
        assert "oom_kill" in act.unavailable

    def test_6_18_node_names(self) -> None:
        text = (FIXTURES / "proc-captures/firecracker-6.18/vmstat").read_text()
        later = bumped(
            text,
            {
                "allocstall_normal": 3,
                "allocstall_dma32": 1,
                "pgscan_direct": 50,
                "pgsteal_direct": 40,
                "kswapd_low_wmark_hit_quickly": 7,
            },
        )
        act = reclaim_activity(parse_vmstat(text), parse_vmstat(later), 1.0)
        assert act.deltas["allocstall"] == 4
        assert act.direct_efficiency == 0.8
        assert act.deltas["kswapd_low_wmark_hit_quickly"] == 7
        assert act.deltas["pgscan_kswapd"] == 0
        assert act.kswapd_efficiency is None  # nothing scanned: no ratio
        assert act.unavailable == ()
        document = act.as_dict()
        assert document["counters"]["allocstall"] == {
            "delta": 4,
            "per_second": 4.0,
            "meaning": "allocations that stalled in direct reclaim",
        }

    def test_2_6_16_has_few_counters(self) -> None:
        text = (FIXTURES / "roots/embedded-arm720t-2.6.16/proc/vmstat").read_text()
        act = reclaim_activity(parse_vmstat(text), parse_vmstat(text), 10.0)
        assert set(act.unavailable) >= {
            "compact_stall",
            "drop_pagecache",
            "kswapd_low_wmark_hit_quickly",
        }
        assert all(v == 0 for v in act.deltas.values())

    def test_counter_reset_left_out(self) -> None:
        earlier = parse_vmstat("allocstall 100\npgscan_kswapd 10\n")
        later = parse_vmstat("allocstall 5\npgscan_kswapd 20\n")
        act = reclaim_activity(earlier, later, 1.0)
        assert act.reset == ("allocstall",)
        assert "allocstall" not in act.deltas

    def test_bad_interval(self) -> None:
        sample = parse_vmstat("allocstall 1\n")
        with pytest.raises(ValueError):
            reclaim_activity(sample, sample, 0)

    def test_every_counter_named_once(self) -> None:
        names = [name for name, _attr, _meaning in ACTIVITY_COUNTERS]
        assert len(names) == len(set(names))


@pytest.mark.live
class TestAgainstRunningKernel:
    """Oracle: the running kernel counts a real ``echo 1 > /proc/sys/vm/drop_caches``."""

    def test_drop_pagecache_counted(self) -> None:
        drop = Path("/proc/sys/vm/drop_caches")
        if not os.access(drop, os.W_OK):
            pytest.skip("drop_caches not writable")
        before = parse_vmstat(Path("/proc/vmstat").read_text())
        if before.drop_pagecache is None:
            pytest.skip("kernel has no drop_pagecache counter (before 4.4)")
        start = time.monotonic()
        drop.write_text("1\n")
        after = parse_vmstat(Path("/proc/vmstat").read_text())
        act = reclaim_activity(before, after, max(time.monotonic() - start, 1e-3))
        assert act.deltas["drop_pagecache"] >= 1
        assert act.rate("drop_pagecache") > 0
