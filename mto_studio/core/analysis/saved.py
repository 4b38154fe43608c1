"""The project's saved analysis (analysis.json next to project.toml): the last report and the user's overrides of
its decisions, so that the Analyzer shows them again when the project reopens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mto_studio.core.analysis.analyze import AnalysisReport, report_from_dict
from mto_studio.core.errors import MtoError
from mto_studio.core.fsio import atomic_write_json
from mto_studio.core.templates import Objective

ANALYSIS_FILE = "analysis.json"
ANALYSIS_FORMAT = 1


def analysis_path(folder: str | Path) -> Path:
    """Where the analysis of the project in ``folder`` is kept."""
    return Path(folder) / ANALYSIS_FILE


def save_analysis(folder: str | Path, report: dict[str, Any], overrides: dict[str, str]) -> Path:
    """Write the report and the user's overrides next to project.toml (atomically)."""
    return atomic_write_json(
        analysis_path(folder),
        {"format": ANALYSIS_FORMAT, "report": report, "overrides": dict(sorted(overrides.items()))},
    )


def load_analysis(folder: str | Path) -> tuple[dict[str, Any], AnalysisReport, dict[str, str]] | None:
    """The saved report (also a bare report as `mto-studio analyze --out` writes it), or None when there is none.
    A file that cannot be read raises an MtoError that says so."""
    path = analysis_path(folder)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        raw = data["report"] if "report" in data else data
        report = report_from_dict(raw)
        overrides = {str(k): Objective(str(v)).value for k, v in data.get("overrides", {}).items()}
    except MtoError as exc:
        raise MtoError(f"{ANALYSIS_FILE}: {exc.message}", "run the analysis again to replace it") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MtoError(f"cannot read {ANALYSIS_FILE}: {exc}", "run the analysis again to replace it") from None
    return raw, report, overrides
