"""The import direction of docs/architecture.md, checked on the source.

Every ``import`` and ``from ... import`` in ``src/minfree`` is read with :mod:`ast`,
including imports inside functions and under ``if TYPE_CHECKING:`` (a type-only import
is still a dependency the layering must allow), relative imports, ``from minfree import
cli`` and ``importlib.import_module("minfree....")`` with a literal name. Each import is
classified by the package it lands in and checked against :data:`MAY_IMPORT`.

Known violations that cannot be fixed yet live in :data:`ALLOWED`, one commented entry
each. The list is a ratchet: an entry that no longer matches any import fails the test
too, so it is removed as soon as the code is fixed.

The pure layers (model, kernel, parsers, analysis, recommend) must also touch no file
and run no program: reading is the sources' job, writing apply's.

A last test checks that ``minfree --help`` (and every ``minfree <command> --help``)
loads none of the heavy libraries: the CLI imports them only when a command runs.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO

SRC = REPO / "src"
PACKAGE = SRC / "minfree"

#: Layer -> the other layers it may import (its own layer is always allowed).
#: "minfree" is the package itself (``__version__``); "__main__" is ``python -m minfree``.
MAY_IMPORT: dict[str, frozenset[str]] = {
    # frozen dataclasses: the standard library only
    "model": frozenset(),
    "errors": frozenset(),
    "minfree": frozenset(),
    "kernel": frozenset({"model", "errors", "minfree"}),
    "parsers": frozenset({"model", "kernel", "errors", "minfree"}),
    "sources": frozenset({"parsers", "model", "kernel", "errors", "minfree"}),
    # analysis works on the model: it never parses text nor reads a source itself
    "analysis": frozenset({"model", "kernel", "errors", "minfree"}),
    "recommend": frozenset({"model", "kernel", "analysis", "errors", "minfree"}),
    "simulation": frozenset({"model", "kernel", "errors", "minfree"}),
    # the only writer: everything above it, but no rendering, no simulation, no CLI
    "apply": frozenset(
        {"model", "kernel", "errors", "minfree", "parsers", "sources", "analysis", "recommend"}
    ),
    # Not in docs/architecture.md's table: the fleet runs the doctor pipeline per bundle
    # (sources -> analysis -> recommend) and renders each result to JSON, so it sits beside
    # outputs; it must not reach into the simulation or the CLI.
    "fleet": frozenset(
        {"model", "kernel", "errors", "minfree", "parsers", "sources", "analysis",
         "recommend", "outputs"}
    ),
    "outputs": frozenset(
        {"model", "kernel", "errors", "minfree", "parsers", "sources", "analysis",
         "recommend", "apply", "simulation", "fleet"}
    ),
    "cli": frozenset(
        {"model", "kernel", "errors", "minfree", "parsers", "sources", "analysis",
         "recommend", "apply", "simulation", "fleet", "outputs"}
    ),
    "__main__": frozenset({"cli", "minfree"}),
}

#: Known violations, as (importing file relative to src/minfree, imported module), one
#: commented entry each naming why it cannot be fixed yet and who resolves it. Line numbers
#: are left out on purpose so that an entry survives unrelated edits.
#:
#: Empty: no violation remains. The last ones (analysis reading logs, roots, vmstat and
#: aerospike.conf, and resolve_boot_sysctl collecting a root) were fixed by splitting
#: reading from explaining: sources.kernel_logs.read_failure_reports and
#: sources.host_inputs.collect_host_inputs read; analysis.failure_report.explain_scan and
#: analysis.diagnosis.diagnose are pure. Add an entry only for a violation that truly cannot
#: be fixed in the same change, never to silence the test.
ALLOWED: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class ImportEdge:
    """One import found in the source: who imports what, and where."""

    path: str  # relative to src/minfree, e.g. "analysis/sysctl_boot.py"
    line: int
    importer: str  # dotted module name
    imported: str  # dotted module name (minfree.* only)

    def __str__(self) -> str:
        return f"src/minfree/{self.path}:{self.line} {self.importer} -> {self.imported}"


def module_name(path: Path, package_dir: Path = PACKAGE) -> str:
    relative = path.relative_to(package_dir.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str, package_dir: Path) -> bool:
    """Whether ``dotted`` (minfree.x.y) is a module or package under ``package_dir``."""
    rest = dotted.split(".")[1:]
    base = package_dir.joinpath(*rest) if rest else package_dir
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_in(source: str, importer: str, is_package: bool, package_dir: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every minfree import in ``source``, anywhere in it.

    ``from a import b`` counts as importing ``a.b`` when that is a module (``from minfree
    import cli`` imports the CLI), else ``a``.
    """
    tree = ast.parse(source)
    package = importer if is_package else importer.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base_parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                if base.split(".")[0] == "minfree" and _is_module(candidate, package_dir):
                    found.append((node.lineno, candidate))
                else:
                    found.append((node.lineno, base))
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id in {"import_module", "__import__"})
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    unique = dict.fromkeys((line, name) for line, name in found if name.split(".")[0] == "minfree")
    return list(unique)


def layer_of(dotted: str) -> str:
    """``minfree.analysis.x`` -> ``analysis``; ``minfree`` -> ``minfree``."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def collect_edges(package_dir: Path = PACKAGE) -> list[ImportEdge]:
    edges: list[ImportEdge] = []
    for path in sorted(package_dir.rglob("*.py")):
        importer = module_name(path, package_dir)
        for line, imported in imports_in(
            path.read_text(encoding="utf-8"), importer, path.name == "__init__.py", package_dir
        ):
            edges.append(
                ImportEdge(path.relative_to(package_dir).as_posix(), line, importer, imported)
            )
    return edges


def violations(edges: list[ImportEdge]) -> list[ImportEdge]:
    """Edges whose target layer the importer's layer may not import."""
    bad: list[ImportEdge] = []
    for edge in edges:
        source_layer, target_layer = layer_of(edge.importer), layer_of(edge.imported)
        if source_layer == target_layer:
            continue
        allowed = MAY_IMPORT.get(source_layer)
        if allowed is None or target_layer not in allowed:
            bad.append(edge)
    return bad


# -- the checker itself ----------------------------------------------------------------------


def _fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    package_dir = tmp_path / "minfree"
    for relative in ["__init__.py", "cli/__init__.py", "cli/main.py", "model/__init__.py",
                     "analysis/__init__.py", "sources/__init__.py", "sources/root.py",
                     "simulation/__init__.py", *files]:
        target = package_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(files.get(relative, "")))
    return package_dir


def test_checker_finds_every_kind_of_import(tmp_path: Path) -> None:
    package_dir = _fake_package(tmp_path, {
        "analysis/a.py": """
            from __future__ import annotations
            import os
            from typing import TYPE_CHECKING
            from minfree import cli
            from minfree.model import zone
            if TYPE_CHECKING:
                from minfree.sources.root import Root
            def lazy():
                import minfree.simulation
                from ..sources import root
                import importlib
                importlib.import_module("minfree.cli.main")
        """,
        "model/zone.py": "from . import zone2\nfrom .. import errors\n",
        "model/zone2.py": "",
        "errors.py": "",
    })
    edges = collect_edges(package_dir)
    found = {(e.path, e.line, e.imported) for e in edges}
    assert found == {
        ("analysis/a.py", 5, "minfree.cli"),
        ("analysis/a.py", 6, "minfree.model.zone"),
        ("analysis/a.py", 8, "minfree.sources.root"),
        ("analysis/a.py", 10, "minfree.simulation"),
        ("analysis/a.py", 11, "minfree.sources.root"),
        ("analysis/a.py", 13, "minfree.cli.main"),
        ("model/zone.py", 1, "minfree.model.zone2"),
        ("model/zone.py", 2, "minfree.errors"),
    }
    assert sorted(str(e) for e in violations(edges)) == [
        "src/minfree/analysis/a.py:10 minfree.analysis.a -> minfree.simulation",
        "src/minfree/analysis/a.py:11 minfree.analysis.a -> minfree.sources.root",
        "src/minfree/analysis/a.py:13 minfree.analysis.a -> minfree.cli.main",
        "src/minfree/analysis/a.py:5 minfree.analysis.a -> minfree.cli",
        "src/minfree/analysis/a.py:8 minfree.analysis.a -> minfree.sources.root",
        "src/minfree/model/zone.py:2 minfree.model.zone -> minfree.errors",
    ]


def test_every_layer_of_the_package_has_rules() -> None:
    layers = {layer_of(module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert layers - set(MAY_IMPORT) == set(), "add the new package to MAY_IMPORT (and docs)"


def test_rules_match_the_documented_table() -> None:
    """The few facts of docs/architecture.md stated once more, so MAY_IMPORT cannot drift."""
    for layer, allowed in MAY_IMPORT.items():
        if layer not in {"cli", "__main__"}:
            assert "cli" not in allowed, f"{layer} may not import cli"
        if layer not in {"cli", "outputs"}:
            assert "simulation" not in allowed, f"only cli and outputs import simulation ({layer})"
    assert {"parsers", "sources"}.isdisjoint(MAY_IMPORT["analysis"])
    assert {"cli", "simulation", "outputs"}.isdisjoint(MAY_IMPORT["apply"])
    assert MAY_IMPORT["model"] == frozenset()


# -- the real package --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def package_edges() -> list[ImportEdge]:
    return collect_edges()


def test_imports_follow_the_architecture(package_edges: list[ImportEdge]) -> None:
    edges = package_edges
    assert len(edges) > 100, "the scan found almost no imports: is PACKAGE right?"
    bad = violations(edges)
    unexpected = [e for e in bad if (e.path, e.imported) not in ALLOWED]
    assert not unexpected, "imports against docs/architecture.md:\n" + "\n".join(
        f"  {e}" for e in unexpected
    )


def test_allow_list_has_no_stale_entries(package_edges: list[ImportEdge]) -> None:
    bad = {(e.path, e.imported) for e in violations(package_edges)}
    stale = sorted(ALLOWED - bad)
    assert not stale, (
        "fixed (remove from ALLOWED in tests/test_architecture.py): "
        + ", ".join(f"{path} -> {imported}" for path, imported in stale)
    )


# -- the pure layers touch no file ------------------------------------------------------------

#: Layers that work on values only: reading belongs to sources, writing to apply.
PURE_LAYERS = ("model", "kernel", "parsers", "analysis", "recommend")
#: Calls that read or write files or run programs (as ``name(...)`` or ``x.name(...)``).
IO_CALLS = frozenset({
    "open", "read_text", "read_bytes", "write_text", "write_bytes", "open_binary", "listdir",
    "scandir", "walk", "iterdir", "rglob", "run", "Popen", "check_output", "system",
})
IO_MODULES = frozenset({"subprocess", "shutil", "glob", "tempfile", "socket"})


def io_in(source: str) -> list[tuple[int, str]]:
    """(line, what) for every file or program access in ``source`` (docstrings excluded)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else None)
            if name in IO_CALLS:
                found.append((node.lineno, f"{name}()"))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, f"import {a.name}") for a in node.names
                         if a.name.split(".")[0] in IO_MODULES)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in IO_MODULES:
            found.append((node.lineno, f"from {node.module} import"))
    return sorted(found)


def test_io_checker_finds_reads_writes_and_programs() -> None:
    source = textwrap.dedent('''
        import subprocess
        from pathlib import Path
        def f(p):
            """open(p) in a docstring is not a call"""
            text = Path(p).read_text()
            with open(p) as handle:
                pass
            subprocess.run(["ls"])
            return sorted(text.split())
    ''')
    assert io_in(source) == [(2, "import subprocess"), (6, "read_text()"), (7, "open()"),
                             (9, "run()")]


def test_pure_layers_touch_no_file() -> None:
    offenders = []
    for layer in PURE_LAYERS:
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            for line, what in io_in(path.read_text(encoding="utf-8")):
                offenders.append(f"src/minfree/{path.relative_to(PACKAGE).as_posix()}:{line} "
                                 f"{what}")
    assert not offenders, "file or program access outside sources/apply:\n" + "\n".join(
        f"  {o}" for o in offenders)


# -- minfree --help stays light -------------------------------------------------------------

HEAVY = ("numpy", "numba", "rich", "prometheus_client", "dask", "distributed", "matplotlib")


def test_help_imports_no_heavy_library() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "minfree", "--help"],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage: minfree" in result.stdout
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    assert "minfree.cli.main" in imported, "importtime output not understood"
    heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY)
    assert not heavy, f"`minfree --help` imports {heavy}"


_EVERY_COMMAND_HELP = """
import contextlib, io, json, sys
from minfree.cli.main import COMMANDS, main
heavy = {HEAVY!r}
first_seen = {{}}
for command in COMMANDS:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([command, "--help"])
        except SystemExit as stop:
            code = stop.code
    if code not in (0, None):
        first_seen.setdefault("exit status", []).append(f"{{command}}: {{code}}")
    for name in list(sys.modules):
        if name.split(".")[0] in heavy:
            first_seen.setdefault(name.split(".")[0], command)
print(json.dumps({{"commands": len(COMMANDS), "found": first_seen}}))
"""


def test_every_command_help_imports_no_heavy_library() -> None:
    """``minfree <command> --help`` imports the command's module and runs add_arguments."""
    result = subprocess.run(
        [sys.executable, "-c", _EVERY_COMMAND_HELP.format(HEAVY=HEAVY)],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["commands"] >= 10
    assert report["found"] == {}, f"library -> first command whose --help imports it: {report['found']}"


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT))
def test_layer_rules_are_not_vacuous(layer: str) -> None:
    """Each rule names only layers that exist, so a typo cannot silently allow nothing."""
    known = set(MAY_IMPORT)
    assert MAY_IMPORT[layer] <= known
