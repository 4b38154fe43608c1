"""UI state only (geometry, splitters, recent projects and model folders, last workbench, where the Trainer runs) in
QSettings; results live in projects."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "MTO Studio"
APPLICATION = "MTO Studio"
RECENT_KEY = "recent_projects"
MAX_RECENT = 8


def app_settings() -> QSettings:
    """The user's UI settings: an INI file on every platform (tests redirect it with QSettings.setPath)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def _recent(settings: QSettings, key: str) -> list[str]:
    value = settings.value(key, [])
    if isinstance(value, str):  # QSettings gives a bare string for a one-item list in INI files
        return [value]
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _remember(settings: QSettings, key: str, path: str) -> list[str]:
    recent = [path] + [p for p in _recent(settings, key) if p != path]
    settings.setValue(key, recent[:MAX_RECENT])
    return recent[:MAX_RECENT]


def recent_projects(settings: QSettings) -> list[str]:
    return _recent(settings, RECENT_KEY)


def remember_project(settings: QSettings, folder: str | Path) -> list[str]:
    return _remember(settings, RECENT_KEY, str(Path(folder).expanduser().resolve()))


def forget_project(settings: QSettings, folder: str) -> None:
    settings.setValue(RECENT_KEY, [p for p in recent_projects(settings) if p != folder])


RECENT_MODELS_KEY = "recent_models"


def recent_models(settings: QSettings) -> list[str]:
    """Model folders chosen before (absolute), newest first."""
    return _recent(settings, RECENT_MODELS_KEY)


def remember_model(settings: QSettings, folder: str | Path) -> list[str]:
    return _remember(settings, RECENT_MODELS_KEY, str(Path(folder).expanduser().absolute()))


RUN_ON_KEY, CLUSTER_KEY, PARALLEL_KEY = "trainer/run_on", "trainer/cluster", "trainer/parallel"


def run_on_choice(settings: QSettings) -> tuple[str, str, int]:
    """Where the Trainer runs experiments, as last chosen: ("computer" | "ray", the cluster address, runs at once)."""
    run_on = str(settings.value(RUN_ON_KEY, "computer") or "computer")
    cluster = str(settings.value(CLUSTER_KEY, "") or "")
    try:
        parallel = max(1, int(str(settings.value(PARALLEL_KEY, 1) or 1)))
    except (TypeError, ValueError):
        parallel = 1
    return (run_on if run_on in ("computer", "ray") else "computer"), cluster, parallel


def remember_run_on(settings: QSettings, run_on: str, cluster: str, parallel: int) -> None:
    settings.setValue(RUN_ON_KEY, run_on)
    settings.setValue(CLUSTER_KEY, cluster)
    settings.setValue(PARALLEL_KEY, int(parallel))
