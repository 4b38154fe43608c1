"""Where the shipped resources (templates, phrase tables, the embedded model, recipes) live."""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def resources_dir() -> Path:
    """The resources folder: $MTO_RESOURCES, the PyInstaller bundle, or the source tree (editable install)."""
    candidates = []
    if os.environ.get("MTO_RESOURCES"):
        candidates.append(Path(os.environ["MTO_RESOURCES"]))
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / "resources")
    candidates.append(Path(__file__).resolve().parents[2] / "resources")
    for candidate in candidates:
        if (candidate / "templates").is_dir():
            return candidate
    return candidates[-1]


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)
