"""The run store (SQLite), run folders and their locks."""

from mto_studio.core.store.locks import FolderBusyError, FolderLock, folder_in_use, holder_of
from mto_studio.core.store.recording import recorded, recorded_run
from mto_studio.core.store.sqlite import ExperimentRow, RunRow, RunStore

__all__ = [
    "ExperimentRow",
    "FolderBusyError",
    "FolderLock",
    "RunRow",
    "RunStore",
    "folder_in_use",
    "holder_of",
    "recorded",
    "recorded_run",
]
