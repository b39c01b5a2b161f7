"""Assemble docs/performance.md from the latest bench/results/*.md.

Each bench script writes its own results file (its peer measured in the same run); this keeps
docs/performance.md a faithful copy of them, with the summary table at the top maintained by
hand below. Run: ``.venv/bin/python bench/make_performance_doc.py``.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"

#: (results file, section title, bench script) in reading order
SECTIONS = [
    ("scan.md", "minfree scan vs grep", "bench/scan_vs_grep.py"),
    ("gfp.md", "GFP decoding", "(timeit, see the section)"),
    ("proc.md", "Reading a host snapshot", "(see the section)"),
    ("inspect.md", "minfree inspect and --help", "bench/inspect_speed.py"),
    ("doctor.md", "minfree doctor", "bench/doctor_speed.py"),
    ("apply.md", "apply and boot-time resolution", "bench/apply_bench.py"),
    ("simulate.md", "minfree simulate", "bench/simulate.py"),
    ("exporter.md", "minfree exporter vs node_exporter", "bench/exporter_vs_node_exporter.py"),
    ("fleet.md", "minfree fleet on Dask", "bench/fleet.py"),
    ("architecture.md", "Reading logs once in minfree report", "(see the section)"),
]

HEADER = """# Performance

Every figure here was measured on the project's test machine (Firecracker VM, kernel 6.18,
2 vCPUs, 24 GiB, x86_64, Python 3.11) by the script named in its section, which runs the
peer (grep, `free`/`cat`, node_exporter, a pure-Python reference, a sequential run) in the
same run and prints the ratio. The machine is shared: where a section gives a load average,
read the figures with it. No test asserts a timing; the bench scripts are the record.

## Targets at a glance

| target (issue) | measured | met |
|---|---|---|
{summary}

"""


def demote(text: str) -> str:
    """Shift a results file's headings down two levels under its section title."""
    lines = []
    for line in text.splitlines():
        if line.startswith("#"):
            line = "##" + line
        lines.append(line)
    return "\n".join(lines).strip() + "\n"


def main() -> None:
    summary = (REPO / "bench" / "performance_summary.md").read_text().strip()
    parts = [HEADER.format(summary=summary)]
    for name, title, script in SECTIONS:
        path = RESULTS / name
        if not path.exists():
            continue
        body = demote(path.read_text())
        # drop the results file's own first heading: the section title replaces it
        body_lines = body.splitlines()
        if body_lines and body_lines[0].startswith("###"):
            body_lines = body_lines[1:]
        parts.append(f"## {title}\n\nScript: `{script}`; raw results: `bench/results/{name}`.\n")
        parts.append("\n".join(body_lines).strip() + "\n")
    (REPO / "docs" / "performance.md").write_text("\n".join(parts))


if __name__ == "__main__":
    main()
