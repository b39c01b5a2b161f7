"""``minfree fleet --json`` (schema ``minfree.fleet/1``, see docs/fleet.md).

``hosts[]``: one row per bundle (``host``, ``path``, ``verdict``, ``failures``,
``min_free_kbytes``, ``recommended_min_free_kbytes``, ``findings``, ``error`` and the extra
fields of :mod:`minfree.fleet.worker`); ``summary``: :func:`minfree.analysis.fleet_summary.summarize`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

SCHEMA = "minfree.fleet/1"


def fleet_document(rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]
                   ) -> dict[str, Any]:
    """The whole document as Python data."""
    from minfree import __version__

    return {"schema": SCHEMA, "minfree_version": __version__, "hosts": [dict(r) for r in rows],
            "summary": dict(summary)}


def render_json(rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> str:
    return json.dumps(fleet_document(rows, summary), indent=1) + "\n"
