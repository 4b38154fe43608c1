"""The run store (SQLite) and run folders."""

from mto_studio.core.store.sqlite import ExperimentRow, RunRow, RunStore, recorded

__all__ = ["ExperimentRow", "RunRow", "RunStore", "recorded"]
