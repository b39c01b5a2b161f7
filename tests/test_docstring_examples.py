"""Every ``>>>`` example in the package's docstrings runs and prints what it shows.

CI does not use ``--doctest-modules``, so this test finds every module of ``minfree`` itself
(no hand-kept list that a new module can miss) and runs its examples with ``doctest.testmod``.
A module with no examples passes; a separate test checks that discovery found examples at all.
Each module's examples run with a temporary directory as the working directory and as
``tempfile``'s directory, so what an example writes stays there and is removed afterwards.
"""

from __future__ import annotations

import doctest
import functools
import importlib
import os
import pkgutil
import tempfile

import pytest

import minfree

# Modules whose examples are not run here, with the reason. Keep this as small as possible:
# an example that cannot run in CI should be rewritten to use a self-contained input, or have
# that single line marked ``# doctest: +SKIP`` with a comment saying why.
SKIP: dict[str, str] = {
    # Importing it runs the command line (``python -m minfree``); it has no examples.
    "minfree.__main__": "importing it runs the CLI, which exits",
}

# Fewer modules than this with examples means discovery broke (about 100 have them today).
MIN_MODULES_WITH_EXAMPLES = 50

OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _discover() -> list[str]:
    names = {"minfree"}

    def _raise(name: str) -> None:
        # walk_packages imports each package to list its children; a package that fails to
        # import must fail the run, not silently drop its modules from it.
        raise ImportError(f"cannot import package {name} while discovering modules")

    for info in pkgutil.walk_packages(minfree.__path__, "minfree.", onerror=_raise):
        names.add(info.name)
    return sorted(names)


MODULES = _discover()


@functools.cache
def _run_examples(name: str) -> doctest.TestResults:
    """Run one module's examples once (the count test reuses the results)."""
    module = importlib.import_module(name)
    cwd, tempdir = os.getcwd(), tempfile.tempdir
    with tempfile.TemporaryDirectory(prefix="minfree-doctest-") as scratch:
        # Examples make their inputs with tempfile.mkdtemp(); pointing tempfile at the scratch
        # directory removes those too when the module is done.
        os.chdir(scratch)
        tempfile.tempdir = scratch
        try:
            return doctest.testmod(module, optionflags=OPTIONFLAGS, report=True)
        finally:
            tempfile.tempdir = tempdir
            os.chdir(cwd)


def test_skip_entries_name_real_modules():
    """A SKIP entry for a module that no longer exists is stale and must go."""
    assert sorted(set(SKIP) - set(MODULES)) == []


@pytest.mark.parametrize("name", [name for name in MODULES if name not in SKIP])
def test_docstring_examples_run(name: str):
    result = _run_examples(name)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"


#: Modules whose examples document their use: each must keep some (an example deleted by
#: mistake would otherwise pass unnoticed, as "no examples" is not a failure above).
MUST_HAVE_EXAMPLES = (
    # the scan
    "minfree.model.report", "minfree.parsers.kernel_log", "minfree.parsers.kernel_log_prefix",
    "minfree.parsers.report_meminfo", "minfree.sources.logs", "minfree.sources.kernel_logs",
    "minfree.analysis.failure_report",
    # /proc and sosreport readers
    "minfree.parsers.zoneinfo", "minfree.parsers.buddyinfo", "minfree.parsers.pagetypeinfo",
    "minfree.parsers.meminfo", "minfree.parsers.vmstat", "minfree.parsers.sysctl",
    "minfree.parsers.thp", "minfree.parsers.netdev", "minfree.parsers.osrelease",
    "minfree.model.zoneinfo", "minfree.model.buddyinfo", "minfree.model.pagetypeinfo",
    "minfree.model.meminfo", "minfree.model.vmstat", "minfree.sources.root",
    "minfree.sources.snapshot",
    # the kernel model
    "minfree.kernel.watermarks", "minfree.kernel.min_free", "minfree.kernel.watermark_check",
    "minfree.kernel.fragmentation", "minfree.analysis.reclaim_activity",
    # sysctl at boot
    "minfree.parsers.sysctl_conf", "minfree.sources.sysctl_config",
    "minfree.analysis.sysctl_boot",
    # the doctor
    "minfree.analysis.diagnosis", "minfree.analysis.findings", "minfree.recommend",
    "minfree.recommend.nic", "minfree.outputs.findings_text", "minfree.outputs.doctor_json",
    "minfree.parsers.aerospike_conf",
    # the simulator
    "minfree.simulation.compaction", "minfree.simulation.buddy_ref",
)


@pytest.mark.parametrize("name", MUST_HAVE_EXAMPLES)
def test_documented_modules_keep_their_examples(name: str):
    assert name not in SKIP
    assert _run_examples(name).attempted > 0, f"{name} has no examples"


def test_many_modules_have_examples():
    with_examples = [
        name for name in MODULES if name not in SKIP and _run_examples(name).attempted > 0
    ]
    assert len(with_examples) >= MIN_MODULES_WITH_EXAMPLES, with_examples
