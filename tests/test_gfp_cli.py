"""``minfree gfp``: text and JSON output, and clean one-line errors (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from minfree.cli.main import main


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["gfp", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_text_output_explains_gfp_atomic(capsys):
    code, out, err = _run(capsys, "0x2080020", "--kernel", "4.9.0-5-amd64")
    assert code == 0
    assert err == ""
    assert out.splitlines()[0].strip() == "0x2080020  GFP_ATOMIC"
    assert "3/8 of the min watermark" in out
    assert "HARDER|HIGH" in out
    assert "4.8 to 4.9" in out
    assert "(inferred)" not in out


def test_text_output_says_when_the_era_is_inferred(capsys):
    code, out, _ = _run(capsys, "0x820(GFP_ATOMIC)")
    assert code == 0
    assert "(inferred)" in out
    assert "GFP_ATOMIC: matches" in out


def test_json_output_has_the_documented_keys(capsys):
    code, out, _ = _run(capsys, "0xa20", "--kernel", "5.10.0-9-amd64", "--printed", "GFP_ATOMIC",
                        "--json")
    assert code == 0
    data = json.loads(out)
    for key in ("mask", "decoded", "era", "era_inferred", "can_sleep", "wakes_kswapd",
                "alloc_flags", "reserve_discount", "zones", "nowarn", "comp"):
        assert key in data
    assert data["mask"] == "0xa20"
    assert data["decoded"] == "GFP_ATOMIC"
    assert data["era"] == "5.1"
    assert data["era_inferred"] is False
    assert data["can_sleep"] is False
    assert data["wakes_kswapd"] is True
    assert data["alloc_flags"] == ["HARDER", "HIGH", "KSWAPD"]
    assert data["zones"] == ["DMA", "DMA32", "Normal"]
    assert data["printed_matches"] is True


def test_json_of_a_bare_old_mask(capsys):
    code, out, _ = _run(capsys, "20", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["decoded"] == "GFP_ATOMIC"
    assert data["era_inferred"] is True
    assert data["min_fraction"] == "3/8"


def test_era_and_order_options(capsys):
    code, out, _ = _run(capsys, "0x800", "--era", "6.3", "--order", "2", "--json")
    data = json.loads(out)
    assert code == 0
    assert "HIGHATOMIC" in data["alloc_flags"]
    assert data["era"] == "6.3"


@pytest.mark.parametrize("argv", [
    ["zz"], ["0x100000000"], ["0x20", "--kernel", "not-a-release"], ["0x20", "--era", "9.9"],
    ["0x20", "--order", "-1"], ["0x20", "--order", "x"], ["mode:0x20(GFP_ATOMIC"], [""],
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv):
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("minfree: ")
    assert err.count("\n") == 1


def test_console_script_end_to_end():
    # the real entry point in a fresh interpreter, as a user runs it
    result = subprocess.run([sys.executable, "-m", "minfree", "gfp", "0xcc0", "--json"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["decoded"] == "GFP_KERNEL"
    bad = subprocess.run([sys.executable, "-m", "minfree", "gfp", "nope"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
