"""Load a user's table (CSV, TSV, JSON/JSONL, Parquet or a hub dataset) through `datasets` and map its columns."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mto_studio.core.data.checks import (
    TEXT_HINT,
    cause_text,
    check_unique_columns,
    encoding_hint,
    is_decode_error,
    json_problem,
)
from mto_studio.core.errors import DataError
from mto_studio.core.fsio import unreachable_path
from mto_studio.core.runtime import is_offline

#: File suffix -> (datasets builder, extra builder kwargs).
_FORMATS: dict[str, tuple[str, dict[str, Any]]] = {
    ".csv": ("csv", {"keep_default_na": False, "na_filter": False}),
    # TSVs such as ATOMIC's hold bare quotes inside text: quoting must be off.
    ".tsv": ("csv", {"sep": "\t", "quoting": csv.QUOTE_NONE, "keep_default_na": False, "na_filter": False}),
    ".jsonl": ("json", {}),
    ".json": ("json", {}),
    ".parquet": ("parquet", {}),
}
SUPPORTED_SUFFIXES = tuple(_FORMATS)
DEFAULT_RELATION = "task"


@dataclass(frozen=True)
class ColumnMapping:
    """Which columns hold the input, the target and (optionally) the relation.

    Without a relation column every row belongs to ``default_relation``. ``choices`` makes the table QA data
    (core/data/qa.py): the input is the question, the target the answer (label, index or text) and ``choices``
    one column holding the choices, or several joined by ``|`` (``A|B|C|D``), or ``QUESTION.choices`` for
    CommonsenseQA's nested ``question: {stem, choices}``.
    """

    input: str
    target: str
    relation: str | None = None
    default_relation: str = DEFAULT_RELATION
    choices: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "input": self.input,
            "target": self.target,
            "relation": self.relation,
            "default_relation": self.default_relation,
        }
        if self.choices:
            out["choices"] = self.choices
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnMapping:
        return cls(
            input=data["input"],
            target=data["target"],
            relation=data.get("relation"),
            default_relation=data.get("default_relation") or DEFAULT_RELATION,
            choices=data.get("choices") or None,
        )

    def spec(self) -> str:
        """The mapping as ``--columns`` spells it (the inverse of ``parse``)."""
        return ",".join(f"{role}={column}" for role, column in self.to_dict().items() if column)

    @classmethod
    def parse(cls, spec: str) -> ColumnMapping:
        """Parse ``input=head,target=tail[,relation=rel][,choices=A|B|C]`` (the CLI's --columns)."""
        parts: dict[str, str] = {}
        for item in spec.split(","):
            item = item.strip()
            if not item:
                continue
            if "=" not in item:
                raise DataError(
                    f"bad column mapping item '{item}'", "write it as role=column, e.g. input=head,target=tail"
                )
            role, column = (s.strip() for s in item.split("=", 1))
            if role not in ("input", "target", "relation", "default_relation", "choices"):
                raise DataError(
                    f"unknown role '{role}' in column mapping", "roles are input, target, relation and choices"
                )
            parts[role] = column
        missing = [r for r in ("input", "target") if r not in parts]
        if missing:
            raise DataError(f"column mapping lacks {' and '.join(missing)}", "e.g. --columns input=head,target=tail")
        return cls.from_dict(parts)


@dataclass(frozen=True)
class ColumnPreset:
    name: str
    input: str
    target: str
    relation: str | None = None


#: Known column sets, tried in order; names are compared case-insensitively.
PRESETS: tuple[ColumnPreset, ...] = (
    ColumnPreset("atomic", input="input_text", target="target_text", relation="prefix"),
    ColumnPreset("head-relation-tail", input="head", target="tail", relation="relation"),
    ColumnPreset("input-target-relation", input="input", target="target", relation="relation"),
    ColumnPreset("input-target", input="input", target="target"),
    ColumnPreset("input_text-target_text", input="input_text", target="target_text"),
    ColumnPreset("source-target", input="source", target="target"),
    ColumnPreset("question-answer", input="question", target="answer"),
)


@dataclass(frozen=True)
class Detection:
    """The result of column auto-detection: the mapping and the preset that matched (None = explicit)."""

    mapping: ColumnMapping
    preset: str | None


def detect_columns(columns: list[str]) -> Detection:
    """Find a known column set among ``columns``; raises DataError naming the columns seen."""
    lowered = {c.lower().strip(): c for c in columns}
    for preset in PRESETS:
        wanted = [preset.input, preset.target] + ([preset.relation] if preset.relation else [])
        if all(w in lowered for w in wanted):
            mapping = ColumnMapping(
                input=lowered[preset.input],
                target=lowered[preset.target],
                relation=lowered[preset.relation] if preset.relation else None,
            )
            return Detection(mapping, preset.name)
    known = "; ".join(
        ",".join([p.relation] if p.relation else []) + ("," if p.relation else "") + f"{p.input},{p.target}"
        for p in PRESETS
    )
    raise DataError(
        f"no recognisable columns among {columns}",
        f"use one of the known column sets ({known}; for multiple-choice QA: question, choices or A…E columns, "
        "answer) or map them explicitly, e.g. --columns input=COL,target=COL",
    )


@dataclass
class RawTable:
    """A loaded table before mapping: its source, format, column names and the `datasets.Dataset`."""

    source: str
    format: str
    columns: list[str]
    dataset: Any = field(repr=False)

    def __len__(self) -> int:
        return len(self.dataset)


def _quiet_datasets() -> Any:
    import datasets

    datasets.disable_progress_bars()
    # CRITICAL, not ERROR: a failed read is logged before it is raised, and the DataError below already says it
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)
    return datasets


def _looks_like_hub_id(source: str) -> bool:
    stem = source.split(":", 1)[0]
    return bool(stem) and not stem.startswith((".", "/", "~")) and os.sep not in stem.replace("/", "", 1)


def load_table(source: str | os.PathLike, *, fmt: str | None = None, split: str = "train") -> RawTable:
    """Load a local file (by suffix, or ``fmt``), a built-in data set's ``split`` (``world``, ``example:NAME``) or a
    hub dataset id (``name[:split]``) as a RawTable."""
    from mto_studio.core.data.sources import SPLITS, is_builtin, split_file

    text = str(source)
    if is_builtin(text):
        text = split_file(text, split if split in SPLITS else "train")
    path = Path(text).expanduser()
    if path.exists():
        return _load_file(path, fmt)
    _check_link(path)
    suffix = (fmt and f".{fmt.lstrip('.')}") or path.suffix.lower()
    if suffix in _FORMATS or not _looks_like_hub_id(text):
        raise DataError(
            f"data file not found: {text}", "check the path, or pick the file with --data / File ▸ Open data"
        )
    return _load_hub(text, split)


def _check_link(path: Path) -> None:
    problem = unreachable_path(path, "the data file")
    if problem is not None:
        raise DataError(*problem)


def _load_file(path: Path, fmt: str | None) -> RawTable:
    if path.is_dir():
        raise DataError(
            f"{path} is a folder, not a data file", f"pick a file ending in {', '.join(SUPPORTED_SUFFIXES)}"
        )
    suffix = f".{fmt.lstrip('.').lower()}" if fmt else path.suffix.lower()
    if suffix not in _FORMATS:
        raise DataError(
            f"unsupported data format '{suffix or path.name}'", f"use a file ending in {', '.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}", "check the file's permissions") from exc
    if size == 0:
        raise DataError(f"data file is empty: {path}", "add a header row and at least one data row")
    check_unique_columns(path, suffix)
    builder, kwargs = _FORMATS[suffix]
    datasets = _quiet_datasets()
    try:
        dataset = datasets.load_dataset(builder, data_files=str(path), split="train", keep_in_memory=True, **kwargs)
    except Exception as exc:  # datasets/pyarrow/pandas raise many types; all mean "cannot parse".
        raise _parse_error(path, suffix, exc) from exc
    columns = list(dataset.column_names)
    if suffix in (".json", ".jsonl") and columns == ["text"]:  # what `datasets` makes of rows that are not objects
        problem = json_problem(path, suffix)
        if problem:
            raise DataError(
                f"cannot read {path.name} as {suffix[1:].upper()}: {problem}", "write one JSON object per row"
            )
    if len(dataset) == 0:
        raise DataError(f"data file has no rows: {path}", "add at least one data row under the header")
    return RawTable(source=str(path), format=suffix[1:], columns=columns, dataset=dataset)


def _parse_error(path: Path, suffix: str, exc: Exception) -> DataError:
    """The parser's own cause (line, expected vs seen fields, the JSON line that breaks), with a fix."""
    if "corresponds to no data" in str(exc):
        return DataError(f"data file has no rows: {path}", "add at least one data row under the header")
    kind = suffix[1:].upper()
    not_text = encoding_hint(path)
    if is_decode_error(exc) or not_text != TEXT_HINT:
        return DataError(f"cannot read {path.name} as {kind}: {cause_text(exc)}", not_text)
    reason = (json_problem(path, suffix) if suffix in (".json", ".jsonl") else None) or cause_text(exc)
    if "does not have a datasets dtype equivalent" in reason:  # e.g. a Parquet map column
        return DataError(
            f"cannot read {path.name}: {reason}", "every input, target and relation must be text or a number"
        )
    if "EOF inside string" in reason:
        return DataError(
            f"cannot read {path.name} as {kind}: a quoted field is never closed ({reason})",
            'close the quote, or write a quote inside a field as "" (two quotes)',
        )
    hint = {
        ".json": "write one JSON object per row: a list of objects, or one object per line (JSONL)",
        ".jsonl": "write one JSON object per line, with the same keys in each",
        ".csv": "give every row as many fields as the header (quote fields that hold commas)",
        ".tsv": "give every row as many tab-separated fields as the header",
    }.get(suffix, f"check that the file is a valid {kind} file (or pass --format)")
    return DataError(f"cannot read {path.name} as {kind}: {reason}", hint)


def _load_hub(source: str, split: str) -> RawTable:
    name, _, explicit_split = source.partition(":")
    if is_offline():
        raise DataError(
            f"'{source}' is not a local file, and loading hub datasets needs a network connection",
            "give a path to a local file, or set MTO_ONLINE=1 when online",
        )
    datasets = _quiet_datasets()
    try:
        dataset = datasets.load_dataset(name, split=explicit_split or split)
    except Exception as exc:
        raise DataError(
            f"cannot load hub dataset '{name}': {str(exc).splitlines()[0][:300]}",
            "check the dataset id and split (name:split)",
        ) from exc
    return RawTable(source=source, format="hub", columns=list(dataset.column_names), dataset=dataset)
