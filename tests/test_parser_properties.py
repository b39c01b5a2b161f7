"""Property tests: no input makes a parser raise anything but ParseError.

Three kinds of input: arbitrary text, real fixture files mutated (lines dropped, duplicated,
truncated, characters replaced), and well-formed generated files whose parse must round-trip
the generated numbers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from minfree.errors import ParseError
from minfree.parsers.buddyinfo import parse_buddyinfo
from minfree.parsers.meminfo import parse_meminfo
from minfree.parsers.netdev import parse_ethtool_ring
from minfree.parsers.osrelease import (
    release_from_osrelease,
    release_from_proc_version,
    release_from_uname_a,
    release_from_version_signature,
)
from minfree.parsers.pagetypeinfo import parse_pagetypeinfo
from minfree.parsers.sysctl import parse_sysctl_a
from minfree.parsers.thp import parse_thp_setting
from minfree.parsers.vmstat import parse_vmstat
from minfree.parsers.zoneinfo import parse_zoneinfo

PARSERS: dict[str, Callable[[str], object]] = {
    "zoneinfo": parse_zoneinfo,
    "buddyinfo": parse_buddyinfo,
    "pagetypeinfo": parse_pagetypeinfo,
    "meminfo": parse_meminfo,
    "vmstat": parse_vmstat,
    "sysctl": parse_sysctl_a,
    "thp": parse_thp_setting,
    "ethtool": parse_ethtool_ring,
    "osrelease": release_from_osrelease,
    "uname": release_from_uname_a,
    "proc_version": release_from_proc_version,
    "version_signature": release_from_version_signature,
}

SAMPLES: dict[str, Path] = {
    "zoneinfo": FIXTURES / "proc-captures/firecracker-6.18/zoneinfo",
    "buddyinfo": FIXTURES / "proc-captures/firecracker-6.18/buddyinfo",
    "pagetypeinfo": FIXTURES / "proc-files/elastic-beats/pageinfo-testdata/pagetypeinfo",
    "meminfo": FIXTURES / "proc-files/gopsutil/issue1002/proc/meminfo",
    "vmstat": FIXTURES / "roots/embedded-arm720t-2.6.16/proc/vmstat",
    "sysctl": FIXTURES / "proc-captures/firecracker-6.18/sysctl-vm.txt",
}

_FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text biased towards the characters these formats are made of.
_ALPHABET = st.sampled_from(
    [*list("Node zone,:()[]=>-_.0123456789 \t\nabcdefkBpagesfreminlowhigh"), "٣", "\x00", "é"]
)
_texty = st.one_of(st.text(), st.text(alphabet=_ALPHABET, max_size=400))


def _only_parse_errors(parser: Callable[[str], object], text: str) -> None:
    with contextlib.suppress(ParseError):
        parser(text)


@pytest.mark.parametrize("name", sorted(PARSERS))
@_FAST
@given(text=_texty)
def test_arbitrary_text_raises_only_parse_error(name: str, text: str) -> None:
    _only_parse_errors(PARSERS[name], text)


_mutation = st.tuples(
    st.sampled_from(["drop", "dup", "truncate", "replace", "swap"]),
    st.integers(min_value=0, max_value=10_000),
    st.text(alphabet=_ALPHABET, max_size=8),
)


@pytest.mark.parametrize("name", sorted(SAMPLES))
@_FAST
@given(mutations=st.lists(_mutation, min_size=1, max_size=4))
def test_mutated_real_files_raise_only_parse_error(
    name: str, mutations: list[tuple[str, int, str]]
) -> None:
    text = SAMPLES[name].read_text()
    for kind, pos, junk in mutations:
        lines = text.splitlines(keepends=True)
        i = pos % max(1, len(lines))
        if kind == "drop" and lines:
            del lines[i]
        elif kind == "dup" and lines:
            lines.insert(i, lines[i])
        elif kind == "swap" and len(lines) > 1:
            j = (i + 1) % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        text = "".join(lines)
        if kind == "truncate":
            text = text[: pos % max(1, len(text))]
        elif kind == "replace" and text:
            k = pos % len(text)
            text = text[:k] + junk + text[k + len(junk) :]
    _only_parse_errors(PARSERS[name], text)


_counts = st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=12)


@_FAST
@given(
    zones=st.lists(
        st.tuples(
            st.integers(0, 7), st.sampled_from(["DMA", "DMA32", "Normal", "HighMem"]), _counts
        ),
        min_size=1,
        max_size=6,
        unique_by=lambda z: (z[0], z[1]),
    )
)
def test_buddyinfo_round_trip(zones: list[tuple[int, str, list[int]]]) -> None:
    text = "".join(
        f"Node {node}, zone {name:>8} " + " ".join(f"{c:6d}" for c in counts) + " \n"
        for node, name, counts in zones
    )
    parsed = parse_buddyinfo(text)
    assert [(z.node, z.name, list(z.free_blocks)) for z in parsed.zones] == zones


@_FAST
@given(
    marks=st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6)),
        min_size=1,
        max_size=5,
    ),
    boost=st.booleans(),
    promo=st.booleans(),
)
def test_zoneinfo_round_trip(marks: list[tuple[int, int, int]], boost: bool, promo: bool) -> None:
    names = ["DMA", "DMA32", "Normal", "Movable", "Device"]
    blocks = []
    for (free, low_delta, high_delta), name in zip(marks, names, strict=False):
        mn = free // 3
        lines = [f"Node 0, zone {name:>8}", f"  pages free     {free}"]
        if boost:
            lines.append("        boost    0")
        lines += [f"        min      {mn}", f"        low      {mn + low_delta}"]
        lines.append(f"        high     {mn + low_delta + high_delta}")
        if promo:
            lines.append(f"        promo    {mn + low_delta + 2 * high_delta}")
        lines.append("        protection: (" + ", ".join(["0"] * len(names)) + ")")
        lines += ["  pagesets", "    cpu: 0", "              count: 1", "              high:  6"]
        lines += ["              batch: 1", "  vm stats threshold: 8"]
        blocks.append("\n".join(lines))
    zi = parse_zoneinfo("\n".join(blocks) + "\n")
    assert len(zi.zones) == len(marks)
    for z, (free, low_delta, high_delta) in zip(zi.zones, marks, strict=False):
        assert z.free_pages == free
        assert z.low_pages - z.min_pages == low_delta
        assert z.high_pages - z.low_pages == high_delta
        assert (z.promo_pages is not None) == promo
        assert (z.boost_pages == 0) if boost else z.boost_pages is None
        assert z.stat_threshold_pages == 8


@_FAST
@given(
    values=st.dictionaries(
        st.from_regex(r"[A-Z][A-Za-z_]{0,12}", fullmatch=True),
        st.integers(min_value=0, max_value=2**50),
        min_size=1,
        max_size=20,
    )
)
def test_meminfo_round_trip(values: dict[str, int]) -> None:
    text = "".join(f"{k}:{v:>16} kB\n" for k, v in values.items())
    assert dict(parse_meminfo(text.rstrip("\n")).fields_kb) == values


_PROC_FILES = ("zoneinfo", "buddyinfo", "pagetypeinfo", "meminfo", "vmstat")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    contents=st.fixed_dictionaries(
        {
            name: st.one_of(st.none(), st.binary(max_size=300), _texty.map(str.encode))
            for name in _PROC_FILES
        }
    )
)
def test_read_snapshot_of_a_garbage_root_never_raises(contents: dict[str, bytes | None]) -> None:
    """Whatever a bundle holds, the snapshot is built and every file is accounted for."""
    import tempfile

    from minfree.sources.root import open_root
    from minfree.sources.snapshot import read_snapshot

    with tempfile.TemporaryDirectory() as tmp:
        proc = Path(tmp) / "proc"
        proc.mkdir()
        for name, data in contents.items():
            if data is not None:
                (proc / name).write_bytes(data)
        snap = read_snapshot(open_root(tmp))
        missing = {m.path: m.reason for m in snap.missing}
        parsed = {
            "zoneinfo": snap.zoneinfo,
            "buddyinfo": snap.buddyinfo,
            "pagetypeinfo": snap.pagetypeinfo,
            "meminfo": snap.meminfo,
            "vmstat": snap.vmstat,
        }
        for name, data in contents.items():
            rel = f"proc/{name}"
            if data is None:
                assert missing[rel] == "absent"
            else:
                assert (parsed[name] is None) == (rel in missing)
                if rel in missing:
                    assert missing[rel].startswith("unparseable: ")


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=2000), suffix=st.sampled_from([".tar.gz", ".tar.xz", ".tar", ".tgz"])
)
def test_random_bytes_as_bundle_give_source_error(data: bytes, suffix: str) -> None:
    import tempfile

    from minfree.errors import SourceError
    from minfree.sources.root import open_root

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"bundle{suffix}"
        path.write_bytes(data)
        try:
            root = open_root(path)
        except SourceError:
            return
        # Some byte strings are valid (empty-ish) archives; reading must still not raise.
        root.read_text("proc/zoneinfo")
