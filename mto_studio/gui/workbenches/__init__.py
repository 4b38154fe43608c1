"""The workbenches, one package each (data, templates, analyzer, trainer, runs, lab), and their registry: adding a
workbench is one entry here; the main window builds its sidebar from it. A workbench imports no other workbench:
they talk through the shared StudioContext (an import-linter contract checks this).

A workbench is a QWidget built as ``factory(context)`` (``context``: the StudioContext). It may also define, and
the main window then calls:
    unsaved_changes() -> list[str]     one line per unsaved thing, asked about on close (Save/Discard/Cancel)
    save_changes() -> bool             save them (File ▸ Save, or Save on close); False keeps the window open
    discard_changes() -> None          the user chose Discard
    save_state(settings) / restore_state(settings)   UI state (splitters, tabs) in QSettings
    activated() -> None                it became the visible workbench
    shutdown() -> None                 the window is closing: stop its own workers (the context stops shared ones)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol, runtime_checkable

from PySide6.QtWidgets import QWidget

from mto_studio.gui.widgets.placeholder import PlaceholderWorkbench
from mto_studio.gui.workers import Worker


@dataclass(frozen=True)
class Workbench:
    key: str
    title: str
    #: "package.module:ClassName" (imported when the window is built) or a callable taking the context
    factory: str | Callable[..., QWidget]
    icon: str = ""  # resources/icons/<icon>.svg
    tooltip: str = ""


@runtime_checkable
class ExperimentResumer(Protocol):
    """What the main window asks of the "trainer" workbench: continuing an experiment from its folder."""

    @property
    def is_running(self) -> bool: ...

    def resume(self, folder: str | Path | None = None) -> Worker | None: ...


def placeholder(title: str, text: str) -> Callable[..., QWidget]:
    return lambda _context: PlaceholderWorkbench(title, text)


WORKBENCHES: list[Workbench] = [
    Workbench(
        "data",
        "Data",
        "mto_studio.gui.workbenches.data:DataWorkbench",
        "data",
        "the project's rows, column mapping, heads and relations",
    ),
    Workbench(
        "templates",
        "Templates",
        "mto_studio.gui.workbenches.templates:TemplateDesigner",
        "templates",
        "design templates as slot blocks, preview them on real rows, compare them",
    ),
    Workbench(
        "analyzer",
        "Analyzer",
        "mto_studio.gui.workbenches.analyzer:AnalyzerWorkbench",
        "analyzer",
        "which objective each relation matches, and how templates rank zero-shot",
    ),
    Workbench(
        "trainer",
        "Trainer",
        "mto_studio.gui.workbenches.trainer:TrainerWorkbench",
        "trainer",
        "fine-tune, prompt-tune or LoRA-tune over a template × k-shot × seed grid, with live curves",
    ),
    Workbench(
        "runs",
        "Runs",
        "mto_studio.gui.workbenches.runs:RunsWorkbench",
        "runs",
        "every experiment and run: compare, export, reproduce",
    ),
    Workbench(
        "lab",
        "Objective Lab",
        "mto_studio.gui.workbenches.lab:ObjectiveLabWorkbench",
        "lab",
        "pre-train a small T5 with a chosen objective mix and watch what it learns",
    ),
]


def register_workbench(workbench: Workbench, *, before: str | None = None) -> None:
    """Add (or replace, by key) a workbench; ``before`` places it ahead of another one."""
    existing = [w.key for w in WORKBENCHES]
    if workbench.key in existing:
        WORKBENCHES[existing.index(workbench.key)] = workbench
        return
    position = existing.index(before) if before in existing else len(WORKBENCHES)
    WORKBENCHES.insert(position, workbench)


def build_workbench(workbench: Workbench, context) -> QWidget:
    factory = workbench.factory
    if isinstance(factory, str):
        module_name, _, class_name = factory.partition(":")
        factory = partial(getattr(importlib.import_module(module_name), class_name))
    return factory(context)
