"""project.toml: the file names in a project folder, and reading the file with errors that locate the problem."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from mto_studio.core.data.loading import ColumnMapping
from mto_studio.core.errors import ConfigError, MtoError
from mto_studio.core.models.loading import EMBEDDED_MODEL
from mto_studio.core.templates.model import Objective
from mto_studio.core.training.experiment_config import ExperimentConfig

PROJECT_FILE = "project.toml"
PHRASES_FILE = "phrases.toml"
TEMPLATES_DIR = "templates"
RUN_STORE_FILE = "runs.sqlite"
PROJECT_FORMAT = 1
DEFAULT_PROJECT_NAME = "Default project"
BUILTIN_DATA = "world"

FIELDS = (
    "format",
    "name",
    "model",
    "data",
    "validation_data",
    "test_data",
    "run_store",
    "columns",
    "objectives",
    "experiments",
)


class ProjectError(ConfigError):
    """A project file is missing or malformed. ``path`` and ``line`` locate it where known."""

    def __init__(self, message: str, hint: str = "", *, path: Path | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = path.name if path else ""
        if line is not None:
            where += f" line {line}"
        super().__init__(f"{where}: {message}" if where else message, hint)
        self.bare_message = message


def _line_of(text: str, key: str, *, table: bool = False, occurrence: int = 0) -> int | None:
    """The 1-based line of ``key = …`` (or of the ``[key]``/``[[key]]`` header), its n-th occurrence."""
    if table:
        pattern = re.compile(rf"^[ \t]*\[\[?[ \t]*{re.escape(key)}[ \t]*\]\]?", re.MULTILINE)
    else:
        pattern = re.compile(rf"^[ \t]*{re.escape(key)}[ \t]*=", re.MULTILINE)
    matches = list(pattern.finditer(text))
    if occurrence < len(matches):
        return text.count("\n", 0, matches[occurrence].start()) + 1
    return None


def drop_none(value: Any) -> Any:
    """TOML has no null: leave None-valued keys out (every such field defaults to None when read back)."""
    if isinstance(value, dict):
        return {k: drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [drop_none(v) for v in value if v is not None]
    return value


def parse_project(text: str, folder: str | os.PathLike, file: Path | None = None) -> dict[str, Any]:
    """The settings in the text of a project.toml, checked, as keyword arguments of Project (without the
    folder)."""
    file = file or Path(folder) / PROJECT_FILE
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = getattr(exc, "lineno", None) or (int(found.group(1)) if found else None)
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ProjectError(
            f"syntax error: {message}",
            'fix the TOML at that line (text values need quotes: model = "mto-tiny")',
            path=file,
            line=line,
        ) from None

    def fail(
        message: str, hint: str, key: str | None = None, *, table: bool = False, occurrence: int = 0
    ) -> ProjectError:
        line = _line_of(text, key, table=table, occurrence=occurrence) if key else None
        return ProjectError(message, hint, path=file, line=line)

    for key in data:
        if key not in FIELDS:
            raise fail(
                f"unknown field '{key}'",
                f"remove it; known fields: {', '.join(FIELDS)}",
                key,
                table=isinstance(data[key], (dict, list)),
            )
    version = data.get("format", PROJECT_FORMAT)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise fail(f"format must be a whole number, got {version!r}", f"write format = {PROJECT_FORMAT}", "format")
    if version > PROJECT_FORMAT:
        raise fail(f"format {version} was written by a newer MTO Studio", "update MTO Studio to open it", "format")

    def not_text(key: str, value: Any) -> ProjectError:
        return fail(f"'{key}' must be non-empty text, got {value!r}", f'write {key} = "…" with quotes', key)

    def text_field(key: str, default: str) -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise not_text(key, value)
        return value

    def optional_text_field(key: str) -> str | None:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise not_text(key, value)
        return value or None

    name = text_field("name", "") if "name" in data else Path(folder).name
    model = text_field("model", EMBEDDED_MODEL)
    data_ref = text_field("data", BUILTIN_DATA)
    validation_data = optional_text_field("validation_data")
    test_data = optional_text_field("test_data")
    run_store = text_field("run_store", RUN_STORE_FILE)

    columns = None
    if "columns" in data:
        raw = data["columns"]
        if not isinstance(raw, dict) or not isinstance(raw.get("input"), str) or not isinstance(raw.get("target"), str):
            raise fail(
                "[columns] needs the text fields input and target",
                'write [columns] then input = "head", target = "tail" (relation = "…" optional)',
                "columns",
                table=True,
            )
        unknown = set(raw) - {"input", "target", "relation", "default_relation"}
        if unknown:
            raise fail(
                f"unknown key(s) {sorted(unknown)} in [columns]",
                "use input, target, relation and default_relation",
                "columns",
                table=True,
            )
        if any(not isinstance(v, str) for v in raw.values()):
            raise fail(
                "[columns] values must be column names in quotes",
                'e.g. relation = "relation"',
                "columns",
                table=True,
            )
        columns = ColumnMapping.from_dict(raw)

    objectives: dict[str, Objective] = {}
    raw_objectives = data.get("objectives", {})
    if not isinstance(raw_objectives, dict):
        raise fail("objectives must be a table", 'write [objectives] then xAttr = "filling"', "objectives")
    for relation, value in raw_objectives.items():
        try:
            objective = Objective(str(value).strip().lower())
        except ValueError:
            objective = None
        if objective not in (Objective.FILLING, Objective.MAPPING):
            raise ProjectError(
                f"objective {value!r} for '{relation}' is not filling or mapping",
                f'write {relation} = "filling" or "mapping"',
                path=file,
                line=_line_of(text, relation),
            )
        objectives[str(relation)] = objective

    experiments: list[dict[str, Any]] = []
    raw_experiments = data.get("experiments", [])
    if not isinstance(raw_experiments, list):
        raise fail("experiments must be an array of tables", "write each one as [[experiments]]", "experiments")
    for index, raw in enumerate(raw_experiments):
        if not isinstance(raw, dict):
            raise fail(
                f"experiment {index + 1} must be a table",
                "write it as [[experiments]] with its settings",
                "experiments",
                table=True,
                occurrence=index,
            )
        try:
            experiments.append(ExperimentConfig.from_dict(raw).to_dict())
        except MtoError as exc:
            raise fail(
                f"experiment {index + 1}: {exc.message}", exc.hint, "experiments", table=True, occurrence=index
            ) from None

    return {
        "name": name,
        "model": model,
        "data": data_ref,
        "validation_data": validation_data,
        "test_data": test_data,
        "columns": columns,
        "objectives": objectives,
        "experiments": experiments,
        "run_store": run_store,
    }
