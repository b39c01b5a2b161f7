"""Write simulated atomic failures as the kernel of the host's era would log them.

Each report the kernel would have printed (``warn_alloc``'s rate limit of 10 reports per
5 s applies; suppressed ones are announced with ``warn_alloc: N callbacks suppressed``) is
rendered with its era's header (kernel-facts §5.1), a ``CPU:``/``Hardware name:`` block, a
call trace of the scenario's context (network receive in softirq, or the TCP accept path's
slab refill), and the ``show_mem()`` block (§5.2): global counters, the per-node line
(4.8+), one line per zone with ``lowmem_reserve[]``, the buddy lines, then the page cache,
swap and RAM summary. Values are the simulated state at the moment of the failure: free
pages, the boost-inclusive min/low/high, free blocks per order, cache and anonymous pages.

The failure snapshots keep free blocks per order only (not per migratetype), so buddy
lines carry ``(M)`` for every non-empty order; and there is no swap, so swap lines show
zero. ``minfree scan`` reads these logs back (a tested round
trip).
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING

from minfree.kernel.release import KernelRelease

if TYPE_CHECKING:
    from minfree.simulation.host import SimHost
    from minfree.simulation.run import FailureSnapshot, RunResult
    from minfree.simulation.scenario import Scenario

#: Uptime of the simulated host when the run starts (seconds): the log looks like a host
#: that has been up for a day.
START_UPTIME_S = 86400.0

_RX_TRACE_SOFTIRQ = (
    "__netdev_alloc_skb+0x{:x}/0x150",
    "ixgbe_alloc_rx_buffers+0x6e/0x1f0 [ixgbe]",
    "ixgbe_clean_rx_irq+0x4f1/0xa70 [ixgbe]",
    "ixgbe_poll+0x103/0x280 [ixgbe]",
    "__napi_poll+0x2c/0x170",
    "net_rx_action+0x233/0x2f0",
    "__do_softirq+0xd7/0x2e0",
)
_ACCEPT_TRACE = (
    "allocate_slab+0x{:x}/0x4c0",
    "___slab_alloc+0x3ee/0x810",
    "kmem_cache_alloc+0x2a1/0x2f0",
    "sk_prot_alloc+0x35/0x140",
    "sk_clone_lock+0x28/0x2f0",
    "inet_csk_clone_lock+0x16/0xd0",
    "tcp_create_openreq_child+0x30/0x4d0",
    "tcp_v4_syn_recv_sock+0xb8/0x450",
    "tcp_check_req+0x3d2/0x5b0",
    "tcp_v4_rcv+0xb8d/0xe60",
    "ip_protocol_deliver_rcu+0x3c/0x200",
    "ip_local_deliver_finish+0x44/0x50",
    "__netif_receive_skb_one_core+0x87/0xa0",
    "process_backlog+0x9c/0x170",
    "__napi_poll+0x2c/0x170",
    "net_rx_action+0x233/0x2f0",
    "__do_softirq+0xd7/0x2e0",
)


def _version(release: str) -> tuple[int, int, int]:
    parsed = KernelRelease.try_parse(release)
    return parsed.version if parsed else (6, 6, 0)


def _header(comm: str, order: int, mask: int, names: str, v: tuple[int, int, int]) -> list[str]:
    """The header line(s) of ``warn_alloc`` for this era (kernel-facts §5.1)."""
    if v < (2, 6, 39):
        return [f"{comm}: page allocation failure. order:{order}, mode:0x{mask:x}"]
    if v < (4, 5):
        return [f"{comm}: page allocation failure: order:{order}, mode:0x{mask:x}"]
    if v < (4, 10):
        return [f"{comm}: page allocation failure: order:{order}, mode:0x{mask:x}({names})"]
    if v < (5, 0):
        return [f"{comm}: page allocation failure: order:{order}, mode:0x{mask:x}({names}), "
                "nodemask=(null)",
                f"{comm} cpuset=/ mems_allowed=0"]
    return [f"{comm}: page allocation failure: order:{order}, mode:0x{mask:x}({names}), "
            "nodemask=(null),cpuset=/,mems_allowed=0"]


def _trace(kind: str, order: int, v: tuple[int, int, int]) -> list[str]:
    alloc = "__alloc_pages_nodemask+0x2a6/0x2e0" if v < (5, 13) else "__alloc_pages+0x2a6/0x2e0"
    slow = "__alloc_pages_slowpath+0xa7a/0xc40" if v < (5, 4) else (
        "__alloc_pages_slowpath.constprop.0+0xa7a/0xc40")
    warn = "warn_alloc_failed+0xf1/0x180" if v < (4, 9) else "warn_alloc+0x138/0x1b0"
    dump = "dump_stack+0x6d/0x8b" if v < (5, 13) else "dump_stack_lvl+0x48/0x70"
    head = ["<IRQ>"] if v >= (4, 9) else []
    body = [dump, warn, slow, alloc]
    frames = _ACCEPT_TRACE if kind == "tcp-accept" else _RX_TRACE_SOFTIRQ
    body += [frames[0].format(144 + 8 * order), *list(frames[1:])]
    tail = ["irq_exit_rcu+0x8e/0xc0" if v >= (5, 11) else "irq_exit+0xae/0xb0",
            "common_interrupt+0x43/0xa0" if v >= (5, 8) else "do_IRQ+0x55/0xe0"]
    if v >= (4, 9):
        tail.append("</IRQ>")
    return ["Call Trace:"] + [f" {f}" for f in head + body + tail]


def _buddy_line(node: int, zone: str, blocks: tuple[int, ...], kb: int) -> str:
    parts = []
    total = 0
    for order, count in enumerate(blocks):
        size = kb << order
        total += count * size
        letters = " (M)" if count else ""
        parts.append(f"{count}*{size}kB{letters}")
    return f"Node {node} {zone}: " + " ".join(parts) + f" = {total}kB"


def render_report(run: RunResult, snap: FailureSnapshot, comm: str, index: int) -> list[str]:
    """One report's lines, without timestamps."""
    v = _version(run.release)
    kb = run.page_size_bytes // 1024
    kind = "tcp-accept" if snap.actor.startswith("tcp-accept") else "network-rx"
    lines: list[str] = []
    if snap.suppressed_before:
        lines.append(f"warn_alloc: {snap.suppressed_before} callbacks suppressed")
    lines += _header(comm, snap.order, snap.gfp_mask, snap.gfp_names, v)
    cpu = index % 32
    if v < (3, 0):
        lines.append(f"Pid: 0, comm: {comm} Not tainted {run.release} #1")
    else:
        lines.append(f"CPU: {cpu} PID: 0 Comm: {comm} Not tainted {run.release} #1")
        lines.append("Hardware name: minfree simulated host (scenario "
                     f"{run.scenario}), BIOS 1.0 01/01/2024")
    lines += _trace(kind, snap.order, v)
    free = sum(snap.zone_free_pages)
    cache = sum(snap.zone_cache_pages)
    anon = sum(snap.zone_anon_pages)
    lines.append("Mem-Info:")
    tail_free = f" free:{free} free_pcp:0 free_cma:0" if v >= (4, 4) else f" free:{free}"
    lines.append(f"active_anon:{anon} inactive_anon:0 isolated_anon:0")
    lines.append(f" active_file:{cache // 2} inactive_file:{cache - cache // 2} isolated_file:0")
    lines.append(" unevictable:0 dirty:0 writeback:0" + (" unstable:0" if v < (5, 10) else ""))
    lines.append(" slab_reclaimable:0 slab_unreclaimable:0")
    lines.append(" mapped:0 shmem:0 pagetables:0" + (" bounce:0" if v < (6, 1) else ""))
    lines.append(tail_free)
    nodes = sorted({z.node for z in run.zones})
    if v >= (4, 8):
        for node in nodes:
            members = [i for i, z in enumerate(run.zones) if z.node == node]
            n_anon = sum(snap.zone_anon_pages[i] for i in members) * kb
            n_cache = sum(snap.zone_cache_pages[i] for i in members) * kb
            lines.append(
                f"Node {node} active_anon:{n_anon}kB inactive_anon:0kB "
                f"active_file:{n_cache // 2}kB inactive_file:{n_cache - n_cache // 2}kB "
                "unevictable:0kB isolated(anon):0kB isolated(file):0kB mapped:0kB dirty:0kB "
                "writeback:0kB shmem:0kB writeback_tmp:0kB all_unreclaimable? no")
    for i, z in enumerate(run.zones):
        boost = snap.zone_boost_pages[i]
        fields = [f"free:{snap.zone_free_pages[i] * kb}kB"]
        if v >= (6, 1):
            fields.append(f"boost:{boost * kb}kB")
        fields += [f"min:{(z.min_pages + boost) * kb}kB", f"low:{(z.low_pages + boost) * kb}kB",
                   f"high:{(z.high_pages + boost) * kb}kB"]
        if v >= (5, 10):
            fields.append("reserved_highatomic:0KB")
        zone_cache = snap.zone_cache_pages[i] * kb
        fields += [f"active_anon:{snap.zone_anon_pages[i] * kb}kB", "inactive_anon:0kB",
                   f"active_file:{zone_cache // 2}kB",
                   f"inactive_file:{zone_cache - zone_cache // 2}kB", "unevictable:0kB",
                   "writepending:0kB", f"present:{z.managed_pages * kb}kB",
                   f"managed:{z.managed_pages * kb}kB", "mlocked:0kB"]
        if v < (5, 10):
            fields.append("kernel_stack:0kB")
        if v < (5, 15):
            fields.append("pagetables:0kB")
        fields += ["bounce:0kB", "free_pcp:0kB", "local_pcp:0kB", "free_cma:0kB"]
        lines.append(f"Node {z.node} {z.zone} " + " ".join(fields))
        lines.append("lowmem_reserve[]: " + " ".join(str(p) for p in z.protection_pages))
    for i, z in enumerate(run.zones):
        lines.append(_buddy_line(z.node, z.zone, snap.zone_free_blocks[i], kb))
    for node in nodes:
        lines.append(f"Node {node} hugepages_total=0 hugepages_free=0 hugepages_surp=0 "
                     "hugepages_size=2048kB")
    lines.append(f"{cache} total pagecache pages")
    lines.append("0 pages in swap cache")
    if v < (6, 1):
        lines.append("Swap cache stats: add 0, delete 0, find 0/0")
    lines.append("Free swap  = 0kB")
    lines.append("Total swap = 0kB")
    lines.append(f"{sum(z.managed_pages for z in run.zones)} pages RAM")
    lines.append("0 pages HighMem/MovableOnly")
    lines.append("0 pages reserved")
    return lines


def render_log(run: RunResult, comm: str) -> str:
    """The whole emitted log as dmesg text (``[uptime] message`` lines)."""
    out = []
    for index, snap in enumerate(run.snapshots):
        stamp = START_UPTIME_S + snap.time_s
        for line in render_report(run, snap, comm, index):
            out.append(f"[{stamp:12.6f}] {line}")
    return "\n".join(out) + ("\n" if out else "")


def write_log(run: RunResult, path: str, *, host: SimHost | None = None,
              scenario: Scenario | None = None) -> int:
    """Write the log atomically (temporary file, then rename; an existing file is kept as
    ``PATH.bak``). Returns the number of reports written."""
    comm = scenario.comm if scenario is not None else "swapper/0"
    text = render_log(run, comm)
    folder = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix=".minfree-emit-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if os.path.exists(path):
            os.replace(path, path + ".bak")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return len(run.snapshots)
