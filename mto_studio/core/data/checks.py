"""What a data file must be before its rows become examples, and errors that say where it is not.

- Cells of the mapped columns are text or numbers (numbers become text); objects, lists, true/false, bytes and dates
  are errors naming the column, the row and the type. No cell holds a NUL character.
- Column names are unique: a table that names a column twice is an error naming the column and where.
- When the parser fails, the error shows the parser's own cause (line, expected vs seen fields), not the generic
  "An error occurred while generating the dataset" that `datasets` wraps it in.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

from mto_studio.core.errors import DataError

#: Messages of wrapper exceptions that say nothing about the cause.
_GENERIC = ("an error occurred while generating the dataset",)
_WRAPPERS = ("DatasetGenerationError", "DatasetGenerationCastError")
_PANDAS_PREFIX = re.compile(r"^Error tokenizing data\. C error:\s*")
_DATASETS_PREFIX = re.compile(r"^Failed to (?:read|load)[^:]*? with error <class '[\w.]+'>:\s*")


def parser_cause(exc: BaseException) -> BaseException:
    """The innermost-informative exception behind a `datasets` failure: the first in the chain (``__cause__``, else
    ``__context__``) that is not a generic wrapper."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).strip().lower()
        if type(current).__name__ not in _WRAPPERS and text and not text.startswith(_GENERIC):
            return current
        current = current.__cause__ or current.__context__
    return exc


def cause_text(exc: BaseException) -> str:
    """One line of the parser's own words for ``exc`` (see :func:`parser_cause`)."""
    cause = parser_cause(exc)
    lines = [line.strip() for line in str(cause).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(cause).__name__
    text = _DATASETS_PREFIX.sub("", text)
    return _PANDAS_PREFIX.sub("", text)[:300]


def is_decode_error(exc: BaseException) -> bool:
    return isinstance(parser_cause(exc), UnicodeDecodeError)


TEXT_HINT = "save the file as UTF-8 text"


def encoding_hint(path: Path) -> str:
    """What to do about a file that is not UTF-8 text (UTF-16 files are common exports of spreadsheet programs)."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(4)
    except OSError:
        start = b""
    if start[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "the file is UTF-16 text: save it as UTF-8 (in a spreadsheet: CSV UTF-8)"
    if start[:4] == b"PK\x03\x04":
        return "the file is a zip archive (an .xlsx workbook?): export it as CSV UTF-8"
    return TEXT_HINT


# --- duplicate column names --------------------------------------------------------------------------------
def header_of(path: Path, suffix: str) -> list[str] | None:
    """The column names a CSV/TSV file's first line or a Parquet file's schema declares, as written (the parser
    renames a repeated name to 'name.1'); None when it cannot be read here (the parser then reports why)."""
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        except Exception:  # not a Parquet file: the parser says so
            return None
    if suffix not in (".csv", ".tsv"):
        return None
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError):
        return None
    if suffix == ".tsv":
        return first.rstrip("\r\n").split("\t")
    try:
        return next(csv.reader([first]), [])
    except csv.Error:
        return None


def check_unique_columns(path: Path, suffix: str) -> None:
    """DataError naming a column whose name the header repeats, with both positions."""
    names = header_of(path, suffix)
    if not names:
        return
    counts = Counter(name.strip() for name in names)
    for name, count in counts.items():
        if count > 1 and name:
            places = [str(i + 1) for i, other in enumerate(names) if other.strip() == name]
            raise DataError(
                f"{path.name} names the column '{name}' {count} times (columns {', '.join(places)})",
                "give every column its own name (rename the extra ones or delete them)",
            )


# --- JSON: where exactly the file is broken -------------------------------------------------------------------
def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = Counter(key for key, _ in pairs)
    repeated = [key for key, n in keys.items() if n > 1]
    if repeated:
        raise ValueError(f"the key '{repeated[0]}' appears twice in one object")
    return dict(pairs)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object"


def json_problem(path: Path, suffix: str, max_bytes: int = 512 * 1024 * 1024) -> str | None:
    """Where a JSON/JSONL file breaks the one-object-per-row shape, as 'line N: what' (None if it does not, or is
    too large to look at again)."""
    try:
        if path.stat().st_size > max_bytes:
            return None
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    if suffix == ".json":
        try:
            document = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as exc:
            if exc.msg != "Extra data":  # "Extra data" = one object per line: read it as JSON Lines below
                return f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
        except ValueError as exc:
            return str(exc)
        else:
            rows = document if isinstance(document, list) else None
            if rows is None:
                return None if isinstance(document, dict) else f"the file holds {_kind(document)}, not rows"
            for i, row in enumerate(rows):
                if not isinstance(row, dict):
                    return f"row {i + 1} is {_kind(row)}, not an object of columns"
            return None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as exc:
            return f"line {number}, column {exc.colno}: {exc.msg}"
        except ValueError as exc:
            return f"line {number}: {exc}"
        if not isinstance(row, dict):
            return f"line {number} holds {_kind(row)}, not an object of columns"
    return None


# --- cell values --------------------------------------------------------------------------------------------
_ARROW_KINDS = (
    ("is_struct", "an object"),
    ("is_map", "an object"),
    ("is_list", "a list"),
    ("is_large_list", "a list"),
    ("is_fixed_size_list", "a list"),
    ("is_boolean", "true/false"),
    ("is_binary", "bytes"),
    ("is_large_binary", "bytes"),
    ("is_fixed_size_binary", "bytes"),
    ("is_temporal", "a date or time"),
)


def _arrow_kind(tp: Any) -> str | None:
    """None for text, numbers and nulls (fine); else what the type is, in words."""
    import pyarrow as pa

    if pa.types.is_dictionary(tp):
        tp = tp.value_type
    fine = (
        pa.types.is_string(tp)
        or pa.types.is_large_string(tp)
        or pa.types.is_integer(tp)
        or pa.types.is_floating(tp)
        or pa.types.is_decimal(tp)
        or pa.types.is_null(tp)
        or (hasattr(pa.types, "is_string_view") and pa.types.is_string_view(tp))
    )
    if fine:
        return None
    for predicate, words in _ARROW_KINDS:
        if getattr(pa.types, predicate, lambda _: False)(tp):
            return f"{words} ({tp})"
    return str(tp)


def _fail_cell(source: str, column: str, row: int, kind: str) -> DataError:
    return DataError(
        f"{os.path.basename(source)}: column '{column}', row {row} holds {kind}, not text",
        "every input, target and relation must be text or a number: flatten that column into text, "
        "or map another one with --columns",
    )


def column_cells(dataset: Any, name: str, source: str) -> list[Any]:
    """The values of column ``name`` as text, numbers or None; DataError naming the column, the row (counted from 1,
    header not counted) and the type for anything else, and for a NUL character inside a cell."""
    import pyarrow.compute as pc

    feature = getattr(dataset, "features", {}).get(name) if hasattr(dataset, "features") else None
    table = dataset.with_format("arrow") if hasattr(dataset, "with_format") else dataset
    column = table[name]
    if type(feature).__name__ == "Json":  # rows of several types: datasets keeps each cell as JSON text
        values = [None if raw is None else json.loads(raw) for raw in column.to_pylist()]
        for i, value in enumerate(values):
            if value is not None and (
                isinstance(value, (bool, list, dict)) or not isinstance(value, (str, int, float))
            ):
                raise _fail_cell(source, name, i + 1, _kind(value))
    else:
        kind = _arrow_kind(column.type)
        if kind is not None:
            valid = pc.is_valid(column)
            first = pc.index(valid, True).as_py() if len(column) else -1
            if first >= 0:
                raise _fail_cell(source, name, first + 1, kind)
            return [None] * len(column)
        values = column.to_pylist()
    for i, value in enumerate(values):
        if isinstance(value, str) and "\x00" in value:
            raise DataError(
                f"{os.path.basename(source)}: column '{name}', row {i + 1} holds a NUL character "
                f"(at position {value.index(chr(0)) + 1})",
                "remove the NUL characters; a file full of them is UTF-16 or binary: save it as UTF-8 text",
            )
    return values
