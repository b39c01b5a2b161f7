"""The examples in the doctor's modules' docstrings run (CI does not use --doctest-modules)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "minfree.analysis.diagnosis",
    "minfree.analysis.findings",
    "minfree.recommend",
    "minfree.recommend.nic",
    "minfree.outputs.findings_text",
    "minfree.outputs.doctor_json",
    "minfree.parsers.aerospike_conf",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
