"""``minfree inspect``: against ``free -m`` and /proc on this host, on every fixture root
(partial captures give partial answers naming what is missing), and on bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import FIXTURES
from minfree.cli.main import main
from minfree.parsers.buddyinfo import parse_buddyinfo
from minfree.parsers.zoneinfo import parse_zoneinfo

ROOTS = FIXTURES / "roots"
live_proc = pytest.mark.skipif(not Path("/proc/zoneinfo").exists(), reason="no /proc here")


def inspect_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["inspect", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def inspect_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["inspect", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("minfree: ")
    return err[0]


@live_proc
class TestInspectAgainstFreeCommand:
    """Oracle: procps ``free -m`` run right after."""

    def test_memory_summary_matches_free(self, capsys: pytest.CaptureFixture[str]) -> None:
        if shutil.which("free") is None:
            pytest.skip("procps free not installed")
        document = inspect_json(capsys)
        out = subprocess.run(["free", "-m"], capture_output=True, text=True, check=True).stdout
        header, mem_line = out.splitlines()[0].split(), out.splitlines()[1].split()
        free = dict(zip(header, (int(v) for v in mem_line[1:]), strict=False))
        memory = document["memory"]
        assert memory["total"] == free["total"]
        # The rest moves between the two reads; a busy neighbour may allocate a few MiB.
        for ours, theirs in (
            ("free", "free"),
            ("available", "available"),
            ("buff_cache", "buff/cache"),
        ):
            assert abs(memory[ours] - free[theirs]) <= max(64, free[theirs] // 50), ours


@live_proc
class TestInspectAgainstProc:
    """Oracle: /proc/zoneinfo and /proc/buddyinfo read around the command."""

    def test_zone_watermarks_and_blocks(self, capsys: pytest.CaptureFixture[str]) -> None:
        for _attempt in range(5):
            before = parse_zoneinfo(Path("/proc/zoneinfo").read_text()).zones
            document = inspect_json(capsys)
            after = parse_zoneinfo(Path("/proc/zoneinfo").read_text()).zones
            if [(z.min_pages, z.managed_pages) for z in before] == [
                (z.min_pages, z.managed_pages) for z in after
            ]:
                break
        rows = {(r["node"], r["zone"]): r for r in document["zones"]}
        for z in after:
            row = rows[(z.node, z.name)]
            assert row["watermarks"]["min"]["pages"] == z.min_pages
            assert row["watermarks"]["high"]["pages"] == z.high_pages
            assert row["protection"] == list(z.protection_pages)
            headroom = row["watermarks"]["low"]["headroom_pages"]
            assert headroom == row["free"] - z.low_pages
        # The GFP_ATOMIC floor: ~3/8 of min plus the protection for ZONE_NORMAL (index 2).
        from minfree.kernel.release import KernelRelease
        from minfree.kernel.watermark_check import atomic_floor_pages, check_era_for

        era = check_era_for(KernelRelease.try_parse(Path("/proc/sys/kernel/osrelease").read_text()))
        dma32 = next(z for z in after if z.name == "DMA32")
        assert rows[(0, "DMA32")]["gfp_atomic_floor"]["pages"] == atomic_floor_pages(dma32, era, 2)
        m1 = dma32.min_pages - dma32.min_pages // 2
        assert rows[(0, "DMA32")]["gfp_atomic_floor"]["pages"] == (
            m1 - m1 // 4 + dma32.protection_pages[2]
        )
        assert rows[(0, "Movable")]["gfp_atomic_floor"] is None  # never serves GFP_ATOMIC
        # Free blocks: equal to /proc/buddyinfo for every zone that did not change between a
        # read just before and one just after the command (this host is never idle).
        compared = 0
        for _attempt in range(10):
            first = parse_buddyinfo(Path("/proc/buddyinfo").read_text())
            document = inspect_json(capsys)
            second = parse_buddyinfo(Path("/proc/buddyinfo").read_text())
            for frag in document["fragmentation"]:
                blocks = first.free_blocks(frag["node"], frag["zone"])
                if blocks != second.free_blocks(frag["node"], frag["zone"]):
                    continue
                assert frag["free_blocks"] == list(blocks)
                assert frag["free_pages"] == sum(n << k for k, n in enumerate(blocks))
                compared += 1
            if compared:
                break
        assert compared >= 1

    def test_thp_recommendation_is_the_reference_value(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        document = inspect_json(capsys)
        m = document["min_free_kbytes"]
        assert m["thp_recommended"] == 67584  # 3 zones x 11 x 512 pages x 4 kB on this VM
        assert m["current"] == int(Path("/proc/sys/vm/min_free_kbytes").read_text())
        assert m["kernel_default"] < m["thp_recommended"]

    def test_interval_gives_rates(self, capsys: pytest.CaptureFixture[str]) -> None:
        document = inspect_json(capsys, "--interval", "0.2")
        reclaim = document["reclaim"]
        assert 0.15 < reclaim["seconds"] < 5
        assert "allocstall" in reclaim["counters"]
        assert "pgscan_kswapd" in reclaim["counters"]

    def test_text_sections_in_order(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["inspect"]) == 0
        out = capsys.readouterr().out
        positions = [
            out.index(marker)
            for marker in (
                "Memory (MiB",
                "Zones:",
                "Free blocks per order",
                "Settings",
                "min_free_kbytes\n",
            )
        ]
        assert positions == sorted(positions)
        assert "THP recommendation" in out


class TestInspectOnFixtureRoots:
    @pytest.mark.parametrize(
        "name", sorted(p.name for p in ROOTS.iterdir() if (p / "proc" / "zoneinfo").exists())
    )
    def test_every_root_answers(self, capsys: pytest.CaptureFixture[str], name: str) -> None:
        document = inspect_json(capsys, "--root", str(ROOTS / name))
        zones = parse_zoneinfo((ROOTS / name / "proc/zoneinfo").read_text()).zones
        assert len(document["zones"]) == len(zones)
        for row, z in zip(document["zones"], zones, strict=True):
            assert row["watermarks"]["min"]["pages"] == z.min_pages
        paths = {m["path"] for m in document["missing"]}
        if not (ROOTS / name / "proc/meminfo").exists():
            assert document["memory"] is None
            assert "proc/meminfo" in paths
        if (
            not (ROOTS / name / "proc/buddyinfo").exists()
            and not (ROOTS / name / "proc/pagetypeinfo").exists()
        ):
            assert document["fragmentation"] == []

    def test_thp_unknown_is_said(self, capsys: pytest.CaptureFixture[str]) -> None:
        document = inspect_json(capsys, "--root", str(ROOTS / "hotsos-vault-lxd-5.4.0-97"))
        m = document["min_free_kbytes"]
        assert m["kernel_would_hold"] is None
        assert "not captured" in m["kernel_rule"]

    def test_thp_known_reproduces_running_value(self, capsys: pytest.CaptureFixture[str]) -> None:
        document = inspect_json(capsys, "--root", str(ROOTS / "hotsos-kubernetes-5.4.0-99"))
        assert document["min_free_kbytes"]["kernel_would_hold"] == 67584
        assert document["min_free_kbytes"]["current"] == 67584

    def test_tarball(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        bundle = tmp_path / "host.tar.xz"
        with tarfile.open(bundle, "w:xz") as tar:
            tar.add(ROOTS / "zte-router-armv7-4.1.25", arcname="host")
        document = inspect_json(capsys, "--root", str(bundle))
        assert document["zones"][0]["zone"] == "Normal"
        assert document["memory"]["free"] == 1  # MemFree 2016 kB


class TestInspectBadInput:
    @pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf", "99999"])
    def test_bad_interval(self, capsys: pytest.CaptureFixture[str], value: str) -> None:
        assert "--interval" in inspect_error(capsys, "--interval", value)

    def test_interval_needs_live_host(self, capsys: pytest.CaptureFixture[str]) -> None:
        message = inspect_error(
            capsys, "--root", str(ROOTS / "zte-router-armv7-4.1.25"), "--interval", "1"
        )
        assert "live host" in message

    def test_nothing_to_inspect(self, capsys: pytest.CaptureFixture[str]) -> None:
        message = inspect_error(capsys, "--root", str(ROOTS / "ubuntu-5.4.0-170-partial"))
        assert "proc/zoneinfo (absent)" in message

    def test_garbage_zoneinfo_gives_partial_answer(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        shutil.copytree(ROOTS / "zte-router-armv7-4.1.25" / "proc", tmp_path / "proc")
        (tmp_path / "proc" / "zoneinfo").write_bytes(b"\x00\x01garbage\xff\n")
        document = inspect_json(capsys, "--root", str(tmp_path))
        assert document["zones"] == []
        assert document["memory"] is not None
        reasons = {m["path"]: m["reason"] for m in document["missing"]}
        assert reasons["proc/zoneinfo"].startswith("unparseable")
        assert main(["inspect", "--root", str(tmp_path)]) == 0
        assert "proc/zoneinfo not available" in capsys.readouterr().out

    def test_truncated_zoneinfo(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        shutil.copytree(ROOTS / "hotsos-kubernetes-5.4.0-99" / "proc", tmp_path / "proc")
        text = (tmp_path / "proc" / "zoneinfo").read_text()
        (tmp_path / "proc" / "zoneinfo").write_text(text[: text.index("  pages free") + 5])
        document = inspect_json(capsys, "--root", str(tmp_path))
        reasons = {m["path"]: m["reason"] for m in document["missing"]}
        assert "proc/zoneinfo" in reasons

    def test_unreadable_tarball(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        bad = tmp_path / "bundle.tgz"
        bad.write_bytes(b"not a tarball at all" * 10)
        inspect_error(capsys, "--root", str(bad))

    def test_missing_root(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        assert "no such file" in inspect_error(capsys, "--root", str(tmp_path / "absent"))
