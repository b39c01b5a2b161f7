"""The examples in the scan modules' docstrings run (CI does not use --doctest-modules)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "minfree.model.report",
    "minfree.parsers.kernel_log",
    "minfree.parsers.kernel_log_prefix",
    "minfree.parsers.report_meminfo",
    "minfree.sources.logs",
    "minfree.sources.kernel_logs",
    "minfree.analysis.failure_report",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
