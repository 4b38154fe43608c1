"""Data references: the one place that knows what a ``data`` setting names and which file holds each split.

A reference is one of
- ``world`` (also ``builtin:world``, ``embedded``): the built-in commonsense world; it ships a train and a test
  split, and validation heads are held out of its training split;
- ``world-qa`` (also ``builtin:world-qa``): the built-in world's multiple-choice QA task (one question per fact,
  the true tail among tails of other heads), on the same heads and the same train/test split as ``world``;
- ``example:NAME``: a data set shipped with MTO Studio under ``resources/examples/NAME/`` with ``train.tsv``,
  usually ``validation.tsv`` and sometimes ``test.tsv``;
- a file path (CSV, TSV, JSON/JSONL, Parquet) or, online, a hub dataset id: that file is the training split and
  other splits are only what the user names explicitly.

Three splits, never mixed: the model trains on *train*, checkpoints are selected on *validation* (a file, or heads
held out of train), and *test* is evaluated once at the end. Without a test split the reported score is a
validation score, and it is labelled as one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mto_studio.core.errors import DataError
from mto_studio.core.resources import resource

WORLD_ALIASES = ("world", "builtin:world", "embedded")
WORLD_QA_ALIASES = ("world-qa", "builtin:world-qa")
EXAMPLE_PREFIX = "example:"
#: A validation or test setting that asks for no file even where the data set brings one: validation heads are then
#: held out of the training data, and there is no test split.
NO_SPLIT = "none"
SPLITS = ("train", "validation", "test")
#: Suffixes an example's split files may have, tried in this order.
_EXAMPLE_SUFFIXES = (".tsv", ".csv", ".jsonl", ".json", ".parquet")


@dataclass(frozen=True)
class ExampleData:
    """A data set shipped with MTO Studio."""

    name: str
    folder: Path
    title: str
    files: dict[str, Path]  # split → file, for the splits it has

    @property
    def ref(self) -> str:
        return EXAMPLE_PREFIX + self.name

    @property
    def readme(self) -> Path:
        return self.folder / "README.md"


def examples_dir() -> Path:
    return resource("examples")


def _split_file(folder: Path, split: str) -> Path | None:
    for suffix in _EXAMPLE_SUFFIXES:
        path = folder / f"{split}{suffix}"
        if path.is_file():
            return path
    return None


def _example_at(folder: Path) -> ExampleData | None:
    files = {split: found for split in SPLITS if (found := _split_file(folder, split)) is not None}
    if "train" not in files:
        return None
    title = folder.name
    readme = folder / "README.md"
    if readme.is_file():
        for line in readme.read_text(encoding="utf-8").splitlines():
            if line.startswith("# "):
                title = line[2:].removeprefix("Example:").strip()
                break
    return ExampleData(folder.name, folder, title, files)


def list_examples() -> list[ExampleData]:
    """The shipped examples, by name."""
    root = examples_dir()
    if not root.is_dir():
        return []
    found = (_example_at(folder) for folder in sorted(root.iterdir()) if folder.is_dir())
    return [example for example in found if example is not None]


def get_example(name: str) -> ExampleData:
    """The shipped example ``name`` (with or without the ``example:`` prefix); DataError listing the examples."""
    name = name.removeprefix(EXAMPLE_PREFIX).strip()
    examples = list_examples()
    for example in examples:
        if example.name == name:
            return example
    names = ", ".join(e.ref for e in examples) or "none are installed"
    raise DataError(f"there is no example named '{name}'", f"the examples are: {names}")


def is_world(ref: str | None) -> bool:
    return ref in WORLD_ALIASES


def is_world_qa(ref: str | None) -> bool:
    return ref in WORLD_QA_ALIASES


def world_qa_file(split: str) -> Path:
    """The shipped file of the world's QA task for ``split`` (train or test)."""
    return resource("world", f"world-qa-{split}.jsonl")


def is_example(ref: str | None) -> bool:
    return bool(ref) and str(ref).startswith(EXAMPLE_PREFIX)


def is_builtin(ref: str | None) -> bool:
    """World, example or ``none``: not a path of the user's (never made absolute or copied)."""
    return is_world(ref) or is_world_qa(ref) or is_example(ref) or ref == NO_SPLIT


def split_file(ref: str, split: str) -> str:
    """The file of ``split`` that ``ref`` names: a built-in data set's own split file, else ``ref`` itself.
    Raises DataError naming the split when a built-in data set has no such split."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}")
    if ref == NO_SPLIT:
        raise DataError(f"'{NO_SPLIT}' names no {split} file", "name a data file")
    if is_world(ref):
        if split == "validation":
            raise DataError(
                "the built-in world has no validation file", "its validation heads are held out of its training split"
            )
        return str(resource("world", f"world-{split}.tsv"))
    if is_world_qa(ref):
        if split == "validation":
            raise DataError(
                "the built-in world's QA task has no validation file",
                "its validation questions are held out of its training split",
            )
        return str(world_qa_file(split))
    if is_example(ref):
        example = get_example(ref)
        path = example.files.get(split)
        if path is None:
            raise DataError(
                f"the example '{example.name}' has no {split} file",
                f"it ships: {', '.join(example.files)}; add your own {split} file",
            )
        return str(path)
    return ref


def default_ref(data: str, split: str) -> str | None:
    """The reference for ``split`` when the user names none: a built-in data set's own split, else None
    (validation heads are then held out of the training data, and there is no test split)."""
    if split == "train":
        return data
    if is_world(data) or is_world_qa(data):
        return data if split == "test" else None
    if is_example(data):
        return data if split in get_example(data).files else None
    return None


def resolve_split(data: str, explicit: str | None, split: str) -> str | None:
    """The reference that holds ``split`` of a project or run: the one the user named, else the data set's own
    (``none`` asks for neither)."""
    if explicit == NO_SPLIT:
        return None
    return explicit if explicit else default_ref(data, split)


def describe(ref: str | None, split: str) -> str:
    """A short human name of where ``split`` comes from, for captions and reports."""
    if not ref:
        return "held out of the training data" if split == "validation" else "none"
    if is_world(ref):
        return f"built-in world ({split})"
    if is_world_qa(ref):
        return f"built-in world QA ({split})"
    if is_example(ref):
        return f"{ref} ({split})"
    return Path(ref).name or ref
