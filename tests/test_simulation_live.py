"""The simulator against this machine's kernel (live, under 3 minutes).

Fill the page cache by reading a large sparse temporary file, then let a child process
allocate anonymous memory at a set rate while /proc/zoneinfo and /proc/vmstat are sampled
at 10 Hz. Then simulate the same workload on this host's zones, with kswapd's reclaim rate
as measured, and compare: when free memory first crosses the low watermark, whether
direct reclaim happens, and the lowest free level. Memory is bounded by MemAvailable (the
child stops allocating when less than 2 GiB would remain), the child is killed and the file
deleted in ``finally``. Results are printed (``-s``) and written to
``$MINFREE_LIVE_RESULTS`` when set, for docs/simulation.md.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

GIB = 1 << 30
RATE_BYTES_PER_S = 1 * GIB
ANON_BYTES = 8 * GIB
WINDOW_S = 12.0
SAMPLE_S = 0.1

_CHILD = r"""
import sys, time
rate, total, floor = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
chunk = 32 << 20
held = []
start = time.monotonic()
done = 0
def available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0
while done < total:
    if available() < floor:
        print("stopped: MemAvailable floor", flush=True)
        break
    block = bytearray(chunk)
    view = memoryview(block)
    view[::4096] = b"\x01" * (chunk // 4096)
    held.append(block)
    done += chunk
    lag = done / rate - (time.monotonic() - start)
    if lag > 0:
        time.sleep(lag)
print(f"allocated {done} in {time.monotonic() - start:.2f}", flush=True)
sys.stdout.flush()
time.sleep(600)
"""


def _meminfo() -> dict[str, int]:
    out = {}
    with open("/proc/meminfo") as handle:
        for line in handle:
            key, value = line.split(":", 1)
            out[key] = int(value.split()[0])
    return out


def _vmstat() -> dict[str, int]:
    out = {}
    with open("/proc/vmstat") as handle:
        for line in handle:
            key, value = line.split()
            out[key] = int(value)
    return out


def _zones() -> dict[str, dict[str, int]]:
    """Free pages and watermarks per populated zone from /proc/zoneinfo."""
    from minfree.parsers.zoneinfo import parse_zoneinfo

    with open("/proc/zoneinfo") as handle:
        info = parse_zoneinfo(handle.read(), source="/proc/zoneinfo")
    zones = {}
    for zone in getattr(info, "zones", info):
        managed = getattr(zone, "managed_pages", None) or 0
        if managed <= 0:
            continue
        zones[f"Node {zone.node} {zone.name}"] = {
            "free": zone.free_pages, "min": zone.min_pages, "low": zone.low_pages,
            "high": zone.high_pages, "managed": managed}
    return zones


def _fill_cache(path: str, size: int) -> float:
    """Create a sparse file and read it twice in parallel halves (fills the page cache)."""
    with open(path, "wb") as handle:
        handle.truncate(size)
    started = time.monotonic()
    half = size // 2
    procs = [subprocess.Popen(["dd", f"if={path}", "of=/dev/null", "bs=1M",
                               f"skip={offset // (1 << 20)}", f"count={half // (1 << 20)}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for offset in (0, half)]
    for proc in procs:
        proc.wait(timeout=150)
    return time.monotonic() - started


@pytest.mark.live
@pytest.mark.slow
def test_simulation_agrees_with_this_kernel(vm_sysctl_writer):
    from minfree.simulation.host import host_from_snapshot
    from minfree.simulation.run import simulate
    from minfree.simulation.scenario import AppMemory, PageCache, Reclaim, Scenario
    from minfree.sources.root import open_root
    from minfree.sources.snapshot import read_snapshot

    available = _meminfo()["MemAvailable"] * 1024
    if available < 12 * GIB:
        pytest.skip(f"needs 12 GiB available, this host has {available / GIB:.1f} GiB")
    folder = "/var/tmp" if os.path.isdir("/var/tmp") else tempfile.gettempdir()
    fd, path = tempfile.mkstemp(prefix="minfree-live-", dir=folder)
    os.close(fd)
    child = None
    samples = []
    try:
        fill_bytes = int(available - 1.5 * GIB)
        fill_s = _fill_cache(path, fill_bytes)
        time.sleep(1.0)
        if _meminfo()["MemFree"] * 1024 > 3 * GIB:
            # something else freed memory meanwhile (another test dropping caches?): the
            # cache must fill RAM before the anonymous load starts, so read once more
            fill_s += _fill_cache(path, fill_bytes)
        # start from a quiet kernel: wait until kswapd has finished with the fill
        for _ in range(40):
            steal = _vmstat().get("pgsteal_kswapd", 0)
            time.sleep(0.5)
            if _vmstat().get("pgsteal_kswapd", 0) == steal:
                break
        before = _vmstat()
        meminfo = _meminfo()
        zones0 = _zones()
        snapshot = read_snapshot(open_root(None))
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(RATE_BYTES_PER_S), str(ANON_BYTES), str(2 * GIB)],
            stdout=subprocess.PIPE, text=True)
        started = time.monotonic()
        next_at = 0.0
        while time.monotonic() - started < WINDOW_S:
            samples.append((time.monotonic() - started, _zones(), _vmstat(),
                            _meminfo()["AnonPages"]))
            next_at += SAMPLE_S
            time.sleep(max(0.0, next_at - (time.monotonic() - started)))
    finally:
        if child is not None:
            child.kill()
            child.wait(timeout=30)
        os.unlink(path)

    after = samples[-1][2]
    steal_kswapd = after.get("pgsteal_kswapd", 0) - before.get("pgsteal_kswapd", 0)
    stalls = sum(after.get(k, 0) - before.get(k, 0) for k in after if k.startswith("allocstall"))
    steal_direct = after.get("pgsteal_direct", 0) - before.get("pgsteal_direct", 0)
    # kswapd's capacity: it sleeps whenever the node is balanced, so the average over its
    # active samples understates how fast it can go; take the 90th percentile of the
    # per-sample rates of samples in which it reclaimed
    page = os.sysconf("SC_PAGE_SIZE")
    rates = []
    for (t0, _, prev, _), (t1, _, cur, _) in itertools.pairwise(samples):
        stolen = cur.get("pgsteal_kswapd", 0) - prev.get("pgsteal_kswapd", 0)
        if stolen > 0 and t1 > t0:
            rates.append(stolen * page / 2**20 / (t1 - t0))
    kswapd_mib_per_s = float(np.percentile(rates, 90)) if rates else 0.0
    focus = max(zones0, key=lambda name: zones0[name]["managed"])
    live_lowest = min(z[focus]["free"] for _, z, _, _ in samples)
    live_low_t = next((t for t, z, _, _ in samples if z[focus]["free"] < z[focus]["low"]), None)
    # The anonymous memory the child really got, per sample: this VM's allocation speed
    # varies (zone fallback, host-side faulting), so the simulation replays the measured
    # growth rather than the requested rate.
    tick_s = 0.001
    window = samples[-1][0]
    growth = np.zeros(int(window / tick_s) + 1, dtype=np.int64)
    anon0 = meminfo["AnonPages"]
    prev_t, prev_anon = 0.0, anon0
    for t, _, _, anon_kb in samples:
        pages = max(anon_kb - prev_anon, 0) * 1024 // os.sysconf("SC_PAGE_SIZE")
        lo, hi = int(prev_t / tick_s), max(int(t / tick_s), int(prev_t / tick_s) + 1)
        growth[lo:hi] += pages // (hi - lo)
        growth[lo] += pages % (hi - lo)
        prev_t, prev_anon = t, anon_kb

    # ---- the same workload in the simulator, on this host's zones
    host = host_from_snapshot(snapshot, label="this host")
    managed = sum(z.managed_pages for z in host.zones)
    free_pages = sum(z["free"] for z in zones0.values())
    cached_pages = (meminfo["Cached"] * 1024) // page
    resident_pages = max(managed - free_pages - cached_pages, 0)
    scenario = Scenario(
        name="live-check", host="live", duration_s=window,
        app=AppMemory(resident_gib=resident_pages * page / GIB),
        page_cache=PageCache(read_mib_per_s=0, working_set_gib=0,
                             initial_free_above_high_mib=0.0),
        reclaim=Reclaim(kswapd_mib_per_s=max(kswapd_mib_per_s, 1.0)),
    )
    sim = simulate(host, scenario, min_free_kbytes=snapshot.min_free_kbytes, engine="exact",
                   app_growth_pages_per_tick=growth,
                   initial_free_pages={name: z["free"] for name, z in zones0.items()})
    sim_zone = next(z for z in sim.zones if z.name == focus)
    # when kswapd first went to work (free reached low with every zone of the zonelist
    # under its low + protection): live from pgsteal_kswapd, simulated from its state
    live_kswapd_t = next((t1 for (_, _, prev, _), (t1, _, cur, _) in itertools.pairwise(samples)
                          if cur.get("pgsteal_kswapd", 0) > prev.get("pgsteal_kswapd", 0)), None)
    awake = np.nonzero(sim.samples_kswapd[:, 0] > 0)[0]
    sim_kswapd_t = float((awake[0] + 1) * sim.sample_s) if len(awake) else None
    sim_low_t = None
    for i, free in enumerate(sim.samples_free[:, [z.name for z in sim.zones].index(focus)]):
        if free < sim_zone.low_pages:
            sim_low_t = (i + 1) * sim.sample_s
            break
    result = {
        "fill_seconds": round(fill_s, 1), "fill_gib": round(fill_bytes / GIB, 2),
        "anon_gib_requested": ANON_BYTES / GIB, "anon_gib_per_s_requested": RATE_BYTES_PER_S / GIB,
        "anon_gib_got": round((samples[-1][3] - anon0) / 2**20, 2), "window_s": round(window, 2),
        "zone": focus, "zone_min_low_high": [zones0[focus][k] for k in ("min", "low", "high")],
        "kswapd_reclaim_mib_per_s": round(kswapd_mib_per_s, 1),
        "start_free_pages": {name: z["free"] for name, z in zones0.items()},
        "sim_start_free_pages": {z.name: int(sim.samples_free[0, i])
                                 for i, z in enumerate(sim.zones)},
        "anon_pages_by_second": [int(growth[int(k / 0.001):int((k + 1) / 0.001)].sum())
                                 for k in range(int(window))],
        "live": {"first_below_low_s": live_low_t, "kswapd_starts_s": live_kswapd_t,
                 "direct_reclaim_stalls": stalls,
                 "pgsteal_direct": steal_direct, "lowest_free_pages": live_lowest,
                 "pgsteal_kswapd": steal_kswapd},
        "simulated": {"first_below_low_s": sim_low_t, "kswapd_starts_s": sim_kswapd_t,
                      "direct_reclaim_stalls": sim.direct_reclaim_stalls,
                      "lowest_free_pages": sim_zone.lowest_free_pages,
                      "kswapd_reclaimed_pages": sim.kswapd_reclaimed_pages,
                      "direct_reclaimed_pages": sim.direct_reclaimed_pages},
    }
    print(json.dumps(result, indent=2))
    if os.environ.get("MINFREE_LIVE_RESULTS"):
        with open(os.environ["MINFREE_LIVE_RESULTS"], "w") as handle:
            json.dump(result, handle, indent=2)
    # The workload must have pushed the kernel into reclaim, or there is nothing to compare.
    assert steal_kswapd > 0, "kswapd never reclaimed: the experiment did not create pressure"
    # Agreement stated in docs/simulation.md (measured over several runs on this VM):
    # - kswapd starts (free reaches low) within 1 s of each other: the first 100 ms sample
    #   *below* low is noisier, because once kswapd works free hovers around low;
    # - both reclaim about as much in total (kswapd + direct) - within 25 %;
    # - both agree on whether direct reclaim carried a real share (> 10 %) of the reclaim;
    # - the lowest free level of both lies in the same band: under high (kswapd worked),
    #   and not below 90 % of min (10 Hz sampling can miss a short dip under low).
    assert live_kswapd_t is not None
    assert sim_kswapd_t is not None
    assert abs(live_kswapd_t - sim_kswapd_t) <= 1.0
    live_total = steal_kswapd + steal_direct
    sim_total = sim.kswapd_reclaimed_pages + sim.direct_reclaimed_pages
    assert abs(live_total - sim_total) <= 0.25 * max(live_total, sim_total)
    assert (steal_direct > 0.1 * live_total) == (sim.direct_reclaimed_pages > 0.1 * sim_total)
    zmin, zhigh = zones0[focus]["min"], zones0[focus]["high"]
    for lowest in (live_lowest, sim_zone.lowest_free_pages):
        assert 0.9 * zmin <= lowest < zhigh
