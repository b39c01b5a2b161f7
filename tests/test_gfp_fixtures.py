"""Every mask a real kernel printed with names, in every fixture log, decoded from the hex.

For each ``mode:0x..(NAMES)``, ``gfp_mask=0x..(NAMES)`` and ``gfp=0x..(NAMES)`` in
tests/fixtures/kernel-logs/{reports,nearmiss}/*.log, the decoder given only the hex and the
file's kernel release must print NAMES; given only the hex and NAMES (no release) it must
infer an era that prints NAMES. The extraction is a small regex here, independent of the
scan parser, so a parser bug cannot hide a decoder bug.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from conftest import FIXTURES
from minfree.kernel.gfp import decode_gfp

LOGS = FIXTURES / "kernel-logs"
_PRINTED = re.compile(r"(?:mode:|gfp_mask=|gfp=)(0x[0-9a-f]+)\(([^()\n]*)\)")
# "CPU: 4 PID: 1 Comm: x Not tainted 5.14.21-150400.22-default #1" / "Pid: 0, comm: swapper
# Tainted: P  --------------- 2.6.32-358.el6.x86_64 #1" / "Linux version 6.1.0 (...)"
_RELEASE = re.compile(
    r"(?:(?:Not tainted|Tainted:[A-Z \-]*?)\s+|Linux version )(\d+\.\d+[\w.+~-]*)"
)


def _index_releases(folder: Path) -> dict[str, str]:
    index = folder / "index.tsv"
    with index.open(newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return {row["file"]: row.get("kernel_version") or "unknown" for row in rows}


def _cases() -> list[tuple[str, str | None, int, str]]:
    cases = []
    for folder in (LOGS / "reports", LOGS / "nearmiss"):
        from_index = _index_releases(folder)
        for path in sorted(folder.glob("*.log")):
            text = path.read_text(encoding="utf-8", errors="replace")
            release = from_index.get(path.name, "unknown")
            if release == "unknown":
                found = _RELEASE.search(text)
                release = found.group(1) if found else "unknown"
            seen = set()
            for match in _PRINTED.finditer(text):
                mask, names = int(match.group(1), 16), match.group(2)
                if (mask, names) in seen:
                    continue
                seen.add((mask, names))
                cases.append((f"{folder.name}/{path.name}", None if release == "unknown" else release,
                              mask, names))
    return cases


CASES = _cases()


def test_the_fixtures_hold_enough_printed_masks():
    # guards against the regex silently matching nothing
    assert len(CASES) >= 20
    assert sum(1 for case in CASES if case[1] is not None) >= 15
    files = {case[0] for case in CASES}
    assert {"reports/008.log", "reports/050.log", "reports/054.log", "nearmiss/002.log"} <= files


@pytest.mark.parametrize(("where", "release", "mask", "printed"),
                         [case for case in CASES if case[1] is not None],
                         ids=lambda value: str(value))
def test_hex_and_release_reproduce_the_printed_names(where, release, mask, printed):
    decoding = decode_gfp(mask, release)
    assert decoding.names == printed, (where, release, decoding.era)
    assert decoding.era_inferred is False


@pytest.mark.parametrize(("where", "release", "mask", "printed"), CASES,
                         ids=lambda value: str(value))
def test_hex_and_names_without_release_infer_a_reproducing_era(where, release, mask, printed):
    decoding = decode_gfp(mask, None, printed)
    assert decoding.names == printed, where
    assert decoding.printed_matches is True
    assert decoding.era_inferred is True


@pytest.mark.parametrize(("where", "release", "mask", "printed"),
                         [case for case in CASES if case[1] is not None],
                         ids=lambda value: str(value))
def test_release_and_names_together_agree(where, release, mask, printed):
    decoding = decode_gfp(mask, release, printed)
    assert decoding.printed_matches is True
    assert decoding.era_inferred is False, decoding.era_reason


def test_bare_hex_reports_decode_to_their_old_meaning():
    # pre-4.5 reports print only the hex; 0x20 / 0x4020 are GFP_ATOMIC(|__GFP_COMP) there
    for name, release in (("024.log", "2.6.32-358.2.1.el6.x86_64"), ("018.log", "3.8.0-29-generic"),
                          ("048.log", "4.3.3-coreos-r2")):
        text = (LOGS / "reports" / name).read_text()
        mask = int(re.search(r"mode:(0x[0-9a-f]+)", text).group(1), 16)
        decoding = decode_gfp(mask, release)
        assert decoding.names == "GFP_ATOMIC"
        assert not decoding.can_sleep
        assert str(decoding.min_fraction) == "3/8"


def test_one_era_for_all_masks_of_a_log():
    # 046.log: 0xc00(GFP_NOIO) alone fits 5.1-6.19, 0xa20(GFP_ATOMIC) pins it to 5.x-6.2
    from minfree.kernel.gfp import era_from_printed_masks

    pairs = [(mask, names) for where, _release, mask, names in CASES if where == "reports/046.log"]
    assert len(pairs) == 2
    era = era_from_printed_masks(pairs)
    assert era is not None
    assert era.family == "F"
    assert all(decode_gfp(mask, era=era.key).names == names for mask, names in pairs)
    assert era_from_printed_masks([(0x820, "GFP_ATOMIC"), (0xA20, "GFP_ATOMIC")]) is None


_BARE = re.compile(r"mode:(0x[0-9a-f]+)(?![0-9a-f(])")


def _bare_cases() -> list[tuple[str, str | None, int]]:
    cases = []
    folder = LOGS / "reports"
    releases = _index_releases(folder)
    for path in sorted(folder.glob("*.log")):
        release = releases.get(path.name, "unknown")
        text = path.read_text(encoding="utf-8", errors="replace")
        for mask in sorted({int(m.group(1), 16) for m in _BARE.finditer(text)}):
            cases.append((path.name, None if release == "unknown" else release, mask))
    return cases


BARE_CASES = _bare_cases()


def test_the_fixtures_hold_bare_hex_headers():
    assert len(BARE_CASES) >= 15
    assert {mask for _name, _release, mask in BARE_CASES} >= {0x20, 0x4020, 0xD0, 0x80D2, 0x204010}


@pytest.mark.parametrize(("name", "release", "mask"), BARE_CASES, ids=lambda value: str(value))
def test_bare_hex_headers_decode_fully_and_alike_with_or_without_release(name, release, mask):
    # pre-4.5 kernels print only the hex; every such mask in the fixtures must decode to known
    # flags, and inference from the bits (told the kernel printed no names) must agree with
    # the release where the log gives one
    inferred = decode_gfp(mask, hex_only=True)
    assert inferred.unknown_bits == 0, (name, inferred.names)
    assert inferred.era_inferred is True
    if release is not None:
        known = decode_gfp(mask, release)
        assert known.unknown_bits == 0
        assert known.names == inferred.names, (name, release)
        assert known.can_sleep == inferred.can_sleep
        assert known.min_fraction == inferred.min_fraction
