"""meminfo, vmstat, sysctl, THP, ethtool and release parsers on every matching real file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import FIXTURES
from minfree.errors import ParseError
from minfree.parsers.meminfo import parse_meminfo
from minfree.parsers.netdev import parse_ethtool_ring
from minfree.parsers.osrelease import (
    release_from_osrelease,
    release_from_proc_version,
    release_from_uname_a,
    release_from_version_signature,
)
from minfree.parsers.sysctl import normalise_sysctl_value, parse_sysctl_a, sysctl_key_from_path
from minfree.parsers.thp import parse_thp_setting
from minfree.parsers.vmstat import parse_vmstat


def _files(*patterns: str) -> list[Path]:
    found = {p for pattern in patterns for p in FIXTURES.glob(f"**/{pattern}") if p.is_file()}
    return sorted(found)


def _id(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


def _text(path: Path) -> str:
    # Root.read_text stops at the first NUL; tests read fixtures the same way.
    return path.read_bytes().split(b"\0", 1)[0].decode()


MEMINFO_FILES = _files("meminfo")
VMSTAT_FILES = _files("vmstat")
SYSCTL_FILES = _files("sysctl-a.out", "sysctl_-a", "sysctl-vm.txt")


def test_globs_are_not_empty() -> None:
    assert len(MEMINFO_FILES) >= 35
    assert len(VMSTAT_FILES) >= 30
    assert len(SYSCTL_FILES) >= 9


# -- meminfo ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", MEMINFO_FILES, ids=_id)
def test_meminfo_every_fixture(path: Path) -> None:
    text = _text(path)
    m = parse_meminfo(text, source=str(path))
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(m.fields_kb) + len(m.counts) + len(m.legacy_header) == len(lines)
    is_node_file = "/node/node" in str(path)
    assert (m.node is not None) == is_node_file
    if is_node_file:
        assert m.node == int(path.parent.name.removeprefix("node"))
    if m.total_kb is not None:
        assert m.free_kb is not None
        assert 0 < m.free_kb <= m.total_kb
        assert m.used_kb is not None
        assert 0 <= m.used_kb <= m.total_kb
        if m.available_kb is not None:
            assert m.available_kb <= m.total_kb
    else:
        # ncollectd's swap-only excerpt and gopsutil's 4-line file are the partial ones
        assert len(m.fields_kb) <= 4


class TestMeminfoKnown:
    def test_firecracker_free_summary(self) -> None:
        m = parse_meminfo((FIXTURES / "proc-captures/firecracker-6.18/meminfo").read_text())
        assert m.total_kb == 24684092
        assert m.available_kb == 24372664
        assert m.buff_cache_kb == 33544 + 1275300 + 22556
        assert m.hugepages_total == 0
        assert "Unaccepted" in m.fields_kb or "Percpu" in m.fields_kb

    def test_gopsutil_issue1002_legacy_header(self) -> None:
        m = parse_meminfo((FIXTURES / "proc-files/gopsutil/issue1002/proc/meminfo").read_text())
        assert m.legacy_header[0].startswith("total:")
        assert [h.split(":")[0] for h in m.legacy_header[1:]] == ["Mem", "Swap"]
        assert (m.total_kb, m.free_kb, m.get_kb("MemShared")) == (254472, 121588, 0)

    def test_no_trailing_newline_and_no_memavailable(self) -> None:
        raw = (FIXTURES / "proc-files/dwr-956/proc/meminfo").read_bytes()
        assert not raw.endswith(b"\n")
        m = parse_meminfo(raw.decode())
        assert m.available_kb is None
        assert m.total_kb == 122976
        assert m.get_kb("VmallocChunk") == 1011360

    def test_old_ubuntu_3_2_has_no_memavailable(self) -> None:
        m = parse_meminfo((FIXTURES / "roots/ubuntu-3.2.0-58-generic/proc/meminfo").read_text())
        assert m.available_kb is None
        assert m.total_kb == 8133452

    def test_node_meminfo(self) -> None:
        path = FIXTURES / "roots/pcp-meminfo-root-002-numa2/sys/devices/system/node/node1/meminfo"
        m = parse_meminfo(path.read_text())
        assert (m.node, m.total_kb, m.free_kb) == (1, 67108864, 44375624)
        assert m.get_kb("MemUsed") == 22733240

    @pytest.mark.parametrize(
        ("text", "line"),
        [
            ("MemTotal: 10 kB\nMemFree: ten kB\n", 2),
            ("MemTotal 10 kB\n", 1),
            ("MemTotal: 10 MB\n", 1),
            ("Node 0 MemTotal: 1 kB\nNode 1 MemFree: 1 kB\n", 2),
        ],
    )
    def test_malformed(self, text: str, line: int) -> None:
        with pytest.raises(ParseError, match=rf"^mi:{line}: "):
            parse_meminfo(text, source="mi")


@pytest.mark.skipif(shutil.which("free") is None, reason="procps free not installed")
@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="no /proc/meminfo")
class TestMeminfoAgainstFree:
    """Oracle: procps ``free -k`` run right after reading /proc/meminfo."""

    def test_free_k_columns(self) -> None:
        m = parse_meminfo(Path("/proc/meminfo").read_text())
        out = subprocess.run(["free", "-k"], capture_output=True, text=True, check=True).stdout
        row = next(line for line in out.splitlines() if line.startswith("Mem:")).split()
        total, used, free, shared, buff_cache, available = (int(v) for v in row[1:7])
        assert m.total_kb == total
        # two reads a moment apart on a busy machine: allow a little drift
        slack = 0.02 * total
        assert abs(m.free_kb - free) <= slack
        assert abs(m.shmem_kb - shared) <= slack
        assert abs(m.buff_cache_kb - buff_cache) <= slack
        assert abs(m.available_kb - available) <= slack
        version = subprocess.run(["free", "-V"], capture_output=True, text=True).stdout
        nums = tuple(int(x) for x in re.findall(r"[0-9]+", version)[:3])
        expected = m.used_kb if nums >= (4, 0, 1) else m.used_kb_procps3
        assert abs(expected - used) <= slack


# -- vmstat ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", VMSTAT_FILES, ids=_id)
def test_vmstat_every_fixture(path: Path) -> None:
    text = _text(path)
    v = parse_vmstat(text, source=str(path))
    assert len(v.counters) == sum(1 for line in text.splitlines() if line.strip())
    assert all(value >= 0 for value in v.counters.values())
    if "/node/node" in str(path) or "swap-test01" in str(path):
        return  # per-node files and the two-line excerpt have no reclaim counters
    # every era reports reclaim totals under one name
    for name in ("allocstall_total", "pgscan_kswapd_total", "pgscan_direct_total"):
        assert getattr(v, name) is not None, name
    assert v.pgsteal_kswapd_total is not None
    assert v.pgsteal_kswapd_total <= (v.pgscan_kswapd_total or 0)


class TestVmstatEras:
    def test_per_zone_era_3x_4_7(self) -> None:
        v = parse_vmstat((FIXTURES / "proc-files/node_exporter/proc/vmstat").read_text())
        assert "allocstall" in v
        assert v.allocstall_total == 83165
        assert v.pgscan_kswapd_total == 107656 + 358784
        assert v.pgscan_direct_total == 67 + 6796
        assert v.pgsteal_kswapd_total == 78783 + 254128
        assert v.pgsteal_direct_total == 44 + 6484
        assert v.per_zone("pgscan_kswapd") == {
            "dma": 0,
            "dma32": 107656,
            "normal": 358784,
            "movable": 0,
        }

    def test_per_node_era_4_9_plus(self) -> None:
        v = parse_vmstat((FIXTURES / "roots/pcp-meminfo-root-005/proc/vmstat").read_text())
        assert "allocstall" not in v
        assert v.allocstall_total == 125  # sum of allocstall_<zone>
        assert (v.pgscan_kswapd_total, v.pgscan_direct_total) == (6328636, 39699)
        assert (v.pgsteal_kswapd_total, v.pgsteal_direct_total) == (5435316, 26263)
        assert v.kswapd_low_wmark_hit_quickly == 791

    def test_2_6_16_kswapd_steal(self) -> None:
        v = parse_vmstat((FIXTURES / "roots/embedded-arm720t-2.6.16/proc/vmstat").read_text())
        assert v.nr_free_pages is None  # no nr_free_pages in 2.6.16
        assert v.compact_stall is None
        assert v.drop_pagecache is None
        assert v.pgsteal_kswapd_total == 0  # kswapd_steal
        assert v.pgsteal_direct_total == 0  # sum(pgsteal_<zone>) - kswapd_steal
        assert v.allocstall_total == 0

    def test_2_6_32_style_steal_split(self) -> None:
        v = parse_vmstat("pgsteal_dma 5\npgsteal_normal 100\nkswapd_steal 80\n")
        assert (v.pgsteal_kswapd_total, v.pgsteal_direct_total) == (80, 25)

    def test_absent_counters_are_none_not_zero(self) -> None:
        v = parse_vmstat("nr_free_pages 10\n")
        for name in v.RATE_NAMES:
            assert getattr(v, name) is None, name
        assert v.workingset_refault_total is None

    def test_workingset_refault_split(self) -> None:
        v = parse_vmstat((FIXTURES / "proc-captures/firecracker-6.18/vmstat").read_text())
        assert v.workingset_refault_total == v.get("workingset_refault_anon") + v.get(
            "workingset_refault_file"
        )
        assert v.drop_pagecache is not None
        assert v.get("nr_free_pages_blocks") is not None

    def test_delta_and_rates(self) -> None:
        a = parse_vmstat("pgscan_kswapd 100\ncompact_stall 1\nnr_free_pages 50\n")
        b = parse_vmstat("pgscan_kswapd 300\ncompact_stall 3\nnr_free_pages 20\n")
        assert b.delta(a) == {"pgscan_kswapd": 200, "compact_stall": 2}
        rates = b.rates(a, 2.0)
        assert rates["pgscan_kswapd_total"] == 100.0
        assert rates["compact_stall"] == 1.0
        assert rates["allocstall_total"] is None
        with pytest.raises(ValueError):
            b.rates(a, 0)

    def test_rhel8_unnamed_node_counter(self) -> None:
        path = FIXTURES / "roots/pcp-meminfo-root-006/sys/devices/system/node/node0/vmstat"
        v = parse_vmstat(path.read_text())
        assert 176096 in v.counters.values()

    @pytest.mark.parametrize(
        ("text", "line"),
        [("a 1\nb x\n", 2), ("a 1\na 2\n", 2), ("a\n", 1), ("a 1 2\n", 1)],
    )
    def test_malformed(self, text: str, line: int) -> None:
        with pytest.raises(ParseError, match=rf"^vm:{line}: "):
            parse_vmstat(text, source="vm")


# -- sysctl ------------------------------------------------------------------------------


#: min_free_kbytes of the untouched captures (scenario roots change it on purpose).
_KNOWN_MIN_FREE = {
    "proc-files/jc/centos-7.7/sysctl-a.out": 67584,
    "proc-files/jc/ubuntu-18.04/sysctl-a.out": 45056,
    "roots/hotsos-kubernetes-5.4.0-99/sos_commands/kernel/sysctl_-a": 67584,
    "roots/coreos-rhel8-4.18.0-80.11.2/sos_commands/kernel/sysctl_-a": 67584,
    "proc-captures/firecracker-6.18/sysctl-vm.txt": 67584,
}


@pytest.mark.parametrize("path", SYSCTL_FILES, ids=_id)
def test_sysctl_a_every_fixture(path: Path) -> None:
    text = path.read_text()
    out = parse_sysctl_a(text, source=str(path))
    ratio = out.values["vm.lowmem_reserve_ratio"].split(" ")
    assert len(ratio) >= 3
    assert all(part.isdigit() for part in ratio)  # tabs collapsed, nothing else in between
    assert int(out.values["vm.min_free_kbytes"]) > 0
    if _id(path) in _KNOWN_MIN_FREE:
        assert int(out.values["vm.min_free_kbytes"]) == _KNOWN_MIN_FREE[_id(path)]
    value_lines = [
        line for line in text.splitlines() if line.strip() and not line.startswith("sysctl:")
    ]
    # every value line is kept (repeated keys are joined, so count lines, not keys)
    assert sum(v.count("\n") + 1 for v in out.values.values()) == len(value_lines)
    error_lines = [line for line in text.splitlines() if line.startswith("sysctl:")]
    assert len(out.errors) == len(error_lines)
    assert not any(k in out.values for k in out.denied_keys)  # denied: no value printed


def test_sysctl_matches_proc_sys_files_of_the_same_capture() -> None:
    """Both sources, normalised alike, agree for every vm key the capture has in both."""
    root = FIXTURES / "roots/hotsos-kubernetes-5.4.0-99"
    out = parse_sysctl_a((root / "sos_commands/kernel/sysctl_-a").read_text())
    compared = 0
    for path in sorted((root / "proc/sys/vm").iterdir()):
        key = sysctl_key_from_path(str(path.relative_to(root)))
        value = normalise_sysctl_value(path.read_text())
        if key in out.values and value:
            assert out.values[key] == value, key
            compared += 1
    assert compared >= 40


def test_sysctl_permission_denied_lines() -> None:
    path = FIXTURES / "roots/hotsos-ceph-mon-lxd-5.4.0-97/sos_commands/kernel/sysctl_-a"
    out = parse_sysctl_a(path.read_text())
    assert "fs.protected_fifos" in out.denied_keys
    assert out.errors[0].startswith("sysctl: unable to open directory")


def test_sysctl_multiline_key_and_empty_value() -> None:
    out = parse_sysctl_a("dev.cdrom.info = a:\t1\ndev.cdrom.info = b:\t2\nkernel.domainname = \n")
    assert out.values["dev.cdrom.info"] == "a: 1\nb: 2"
    assert out.values["kernel.domainname"] == ""


def test_sysctl_key_from_path_round_trip() -> None:
    assert sysctl_key_from_path("proc/sys/vm/min_free_kbytes") == "vm.min_free_kbytes"
    assert sysctl_key_from_path("/proc/sys/net/ipv4/conf/eth0.5/rp_filter") == (
        "net.ipv4.conf.eth0/5.rp_filter"
    )


@pytest.mark.parametrize("text", ["just words\n", "= 5\n"])
def test_sysctl_malformed(text: str) -> None:
    with pytest.raises(ParseError, match=r"^sa:1: "):
        parse_sysctl_a(text, source="sa")


# -- THP, ethtool, release -------------------------------------------------------------


@pytest.mark.parametrize("path", _files("transparent_hugepage/enabled"), ids=_id)
def test_thp_enabled_fixtures(path: Path) -> None:
    setting = parse_thp_setting(path.read_text())
    assert setting.choices == ("always", "madvise", "never")
    assert setting.selected in setting.choices


def test_thp_known_and_live() -> None:
    s = parse_thp_setting("always defer defer+madvise [madvise] never\n")
    assert s.selected == "madvise"
    assert s.choices == ("always", "defer", "defer+madvise", "madvise", "never")
    live = Path("/sys/kernel/mm/transparent_hugepage/defrag")
    if live.exists():
        assert parse_thp_setting(live.read_text()).selected in s.choices


@pytest.mark.parametrize(
    "text", ["always madvise never\n", "[always] [never]\n", "al[ways\n", "a\nb\n"]
)
def test_thp_malformed(text: str) -> None:
    with pytest.raises(ParseError, match=r"^thp:"):
        parse_thp_setting(text, source="thp")


ETHTOOL_G = """Ring parameters for ens5:
Pre-set maximums:
RX:\t\t4096
RX Mini:\tn/a
RX Jumbo:\t0
TX:\t\t4096
Current hardware settings:
RX:\t\t1024
RX Mini:\tn/a
RX Jumbo:\t0
TX:\t\t1024
RX Buf Len:\t\tn/a
TCP data split:\tn/a
"""


def test_ethtool_ring() -> None:
    ring = parse_ethtool_ring(ETHTOOL_G)
    assert ring.interface == "ens5"
    assert (ring.rx_max, ring.tx_max, ring.rx_current, ring.tx_current) == (4096, 4096, 1024, 1024)
    assert ring.maximums["RX Mini"] is None
    assert ring.current["TCP data split"] is None
    with pytest.raises(ParseError, match=r"^eg:2: "):
        parse_ethtool_ring("Ring parameters for x:\nRX: 5\n", source="eg")


@pytest.mark.parametrize("path", _files("uname_-a", "uname-a.out"), ids=_id)
def test_uname_a_fixtures(path: Path) -> None:
    release = release_from_uname_a(path.read_text())
    assert release[0].isdigit()
    assert "." in release


@pytest.mark.parametrize("path", _files("osrelease"), ids=_id)
def test_osrelease_fixtures(path: Path) -> None:
    release = release_from_osrelease(path.read_text())
    uname = path.parents[3] / "sos_commands/kernel/uname_-a"
    if uname.exists():  # the same capture's uname -a names the same release
        assert release_from_uname_a(uname.read_text()) == release


@pytest.mark.parametrize(
    "path",
    # proc/sys/kernel/version is the kernel.version sysctl ('#1 SMP ...'), another format
    [p for p in _files("version", "version2", "version3") if "sys" not in p.parts],
    ids=_id,
)
def test_proc_version_fixtures(path: Path) -> None:
    release = release_from_proc_version(path.read_text())
    assert release.split(".")[0] in ("2", "3", "4", "5")


def test_version_signature_and_errors() -> None:
    path = FIXTURES / "roots/ubuntu-5.4.0-170-partial/proc/version_signature"
    assert release_from_version_signature(path.read_text()) == "5.4.0-170.188-generic"
    assert release_from_osrelease(os.uname().release + "\n") == os.uname().release
    with pytest.raises(ParseError):
        release_from_uname_a("Darwin box 23.0.0")
    with pytest.raises(ParseError):
        release_from_proc_version("Linux version x.y")
