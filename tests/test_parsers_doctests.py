"""The examples in the PROC modules' docstrings run (CI does not use --doctest-modules)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "minfree.parsers.zoneinfo",
    "minfree.parsers.buddyinfo",
    "minfree.parsers.pagetypeinfo",
    "minfree.parsers.meminfo",
    "minfree.parsers.vmstat",
    "minfree.parsers.sysctl",
    "minfree.parsers.thp",
    "minfree.parsers.netdev",
    "minfree.parsers.osrelease",
    "minfree.model.zoneinfo",
    "minfree.model.buddyinfo",
    "minfree.model.pagetypeinfo",
    "minfree.model.meminfo",
    "minfree.model.vmstat",
    "minfree.sources.root",
    "minfree.sources.snapshot",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
