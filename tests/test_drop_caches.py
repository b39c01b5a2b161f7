"""``minfree drop-caches``: refusals without confirmation or root; a real level-1 drop here."""

from __future__ import annotations

import os

import pytest

from minfree.cli.main import main


def test_refused_without_yes_when_there_is_no_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drop-caches"]) == 2
    err = capsys.readouterr().err
    assert "no terminal to confirm on" in err
    assert "--yes" in err


def test_refused_when_not_root(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert main(["drop-caches", "--yes"]) == 2
    assert "root-required" in capsys.readouterr().err


def test_bad_level_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["drop-caches", "--level", "7", "--yes"])
    assert exit_info.value.code == 2


@pytest.mark.live
def test_level_1_drop_on_this_host(capsys: pytest.CaptureFixture[str]) -> None:
    # put something in the page cache first so the drop has an effect to show
    data = os.urandom(1 << 20)
    path = "/tmp/minfree-drop-caches-test.bin"
    with open(path, "wb") as handle:
        for _ in range(32):
            handle.write(data)
    try:
        assert main(["drop-caches", "--yes", "--level", "1"]) == 0
    finally:
        os.unlink(path)
    out = capsys.readouterr().out
    assert "drop_caches=1 took" in out
    cached = next(line for line in out.splitlines() if line.strip().startswith("Cached"))
    parts = cached.split()  # Cached  367.4 MiB -> 21.7 MiB (-345.7 MiB)
    before, after = float(parts[1]), float(parts[4])
    assert after < before  # at least our 32 MiB file left the page cache
    assert "cold" in out
