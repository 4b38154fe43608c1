"""UI state only (geometry, splitters, recent projects and model folders, last workbench) in QSettings; results
live in projects."""

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
