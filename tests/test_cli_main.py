"""The dispatcher: lazy sub-commands, clean errors, and a reader that goes away."""

from __future__ import annotations

import subprocess
import sys

from conftest import FIXTURES
from minfree.cli.main import COMMANDS, main

MINFREE = [sys.executable, "-m", "minfree"]


def test_help_lists_every_command(capsys) -> None:
    assert main([]) == 0
    shown = capsys.readouterr().out
    for name in COMMANDS:
        assert name in shown


def test_every_command_has_its_own_help() -> None:
    for name in COMMANDS:
        done = subprocess.run([*MINFREE, name, "--help"], capture_output=True, text=True)
        assert done.returncode == 0, (name, done.stderr)
        assert f"minfree {name}" in done.stdout


def test_unknown_command_is_a_usage_error() -> None:
    done = subprocess.run([*MINFREE, "no-such-command"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_bad_value_is_one_line_and_exit_2() -> None:
    done = subprocess.run([*MINFREE, "gfp", "0xnothex"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("minfree: ")
    assert done.stderr.count("\n") == 1


def test_reader_going_away_is_not_a_traceback() -> None:
    # `minfree scan ... | head -c 1`: the pipe closes while the report is being printed.
    logs = sorted(str(p) for p in (FIXTURES / "kernel-logs/reports").glob("*.log"))
    scan = subprocess.Popen([*MINFREE, "scan", "-v", *logs], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert scan.stdout is not None
    scan.stdout.read(1)
    scan.stdout.close()
    _, stderr = scan.communicate(timeout=120)
    assert b"Traceback" not in stderr
    assert scan.returncode in (0, 1)
