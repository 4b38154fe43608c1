"""Data import: files and hub datasets through `datasets`, column mapping, heads and k-shot sampling."""

from mto_studio.core.data.heads import (
    NONE_TARGETS,
    Example,
    Head,
    TaskData,
    build_task_data,
    group_heads,
    head_id,
    load_task_data,
    task_data_from_examples,
)
from mto_studio.core.data.loading import (
    PRESETS,
    SUPPORTED_SUFFIXES,
    ColumnMapping,
    Detection,
    RawTable,
    detect_columns,
    load_table,
)
from mto_studio.core.data.sampling import HeadSample, parse_shots, sample_heads, shots_label, split_heads

__all__ = [
    "NONE_TARGETS",
    "PRESETS",
    "SUPPORTED_SUFFIXES",
    "ColumnMapping",
    "Detection",
    "Example",
    "Head",
    "HeadSample",
    "RawTable",
    "TaskData",
    "build_task_data",
    "detect_columns",
    "group_heads",
    "head_id",
    "load_table",
    "load_task_data",
    "parse_shots",
    "sample_heads",
    "shots_label",
    "split_heads",
    "task_data_from_examples",
]
