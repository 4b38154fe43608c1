"""What the Trainer finds again in a later session: the project's latest experiment that can be resumed (read from
the run store), and the layout of its splitters and curves' x axis (the app settings)."""

from __future__ import annotations

from pathlib import Path

from mto_studio.core.errors import MtoError
from mto_studio.core.store import RunStore
from mto_studio.core.store.run_folder import ExperimentFolder


def latest_resumable(store_path: Path, busy: set[str]) -> Path | None:
    """The latest stopped or interrupted experiment whose folder still exists and that no job of this app is
    training (``busy``: the folders claimed now)."""
    if not store_path.is_file():
        return None
    try:
        store = RunStore(store_path)
        try:
            experiments = store.experiments()
        finally:
            store.close()
    except MtoError:
        return None
    for experiment in reversed(experiments):
        if (
            experiment.folder
            and str(experiment.folder) not in busy
            and ExperimentFolder(experiment.folder).is_resumable(experiment.status)
        ):
            return Path(experiment.folder)
    return None


def save_layout(view, settings) -> None:
    """``view``: the TrainerWorkbench (its splitter, and the monitor's splitters and x-axis choice)."""
    settings.setValue("trainer/splitter", view.splitter.saveState())
    settings.setValue("trainer/vsplitter", view.monitor.vsplitter.saveState())
    settings.setValue("trainer/bottom-splitter", view.monitor.bottom_splitter.saveState())
    settings.setValue("trainer/x-axis", view.monitor.x_combo.currentData())


def restore_layout(view, settings) -> None:
    for key, splitter in (
        ("trainer/splitter", view.splitter),
        ("trainer/vsplitter", view.monitor.vsplitter),
        ("trainer/bottom-splitter", view.monitor.bottom_splitter),
    ):
        state = settings.value(key)
        if state is not None:
            splitter.restoreState(state)
    mode = settings.value("trainer/x-axis")
    if mode:
        view.monitor.x_combo.setCurrentIndex(max(0, view.monitor.x_combo.findData(mode)))
