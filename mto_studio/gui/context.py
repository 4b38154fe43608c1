"""The shared state of the open project (data, tokenizer, template library) that every workbench observes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from mto_studio.core.data import (
    ColumnMapping,
    RawTable,
    TaskData,
    build_task_data,
    detect_columns,
    load_table,
)
from mto_studio.core.data.sources import NO_SPLIT, default_ref, is_builtin
from mto_studio.core.errors import DataError, ModelError, MtoError
from mto_studio.core.models.loading import EMBEDDED_MODEL, embedded_model_dir, load_tokenizer
from mto_studio.core.project import Project
from mto_studio.core.project.lock import ProjectLease
from mto_studio.core.store.locks import FolderLock
from mto_studio.core.templates import Phrase, SentinelStyle, Template, TemplateLibrary, sentinel_style_for
from mto_studio.gui.data_profile import DataProfile
from mto_studio.gui.workers import LIBRARY_LOCK, Worker, WorkerSet


@dataclass(frozen=True)
class LoadedData:
    """A loaded table and, when its columns could be mapped, its heads. ``error`` says why ``task`` is None."""

    ref: str  # as the project stores it ('world', a path)
    path: str  # the file actually read
    raw: RawTable
    task: TaskData | None
    detected: str | None  # the column preset recognised in the file's header, if any
    error: MtoError | None = None

    @property
    def display_name(self) -> str:
        name = Path(self.path).name
        if is_builtin(self.ref):
            return (
                f"{name} (built-in world)"
                if self.ref in ("world", "builtin:world", "embedded")
                else f"{name} ({self.ref})"
            )
        return name


def read_data(ref: str, path: str, mapping: ColumnMapping | None) -> LoadedData:
    """Load ``path`` and map its columns (runs in a worker). A file that loads but cannot be mapped comes back
    with ``task=None`` and the reason, so the user can map its columns by hand."""
    with LIBRARY_LOCK:
        raw = load_table(path)
        return map_data(ref, raw, mapping)


def map_data(ref: str, raw: RawTable, mapping: ColumnMapping | None) -> LoadedData:
    try:
        detected = detect_columns(raw.columns).preset
    except DataError:
        detected = None
    try:
        with LIBRARY_LOCK:
            task = build_task_data(raw, mapping)
    except DataError as exc:
        return LoadedData(ref, raw.source, raw, None, detected, exc)
    return LoadedData(ref, raw.source, raw, task, detected)


@dataclass(frozen=True)
class SplitInfo:
    """What the project's validation or test split holds, as loaded for the Data workbench."""

    split: str  # "validation" | "test"
    ref: str | None  # as the project stores it; None: held out of train (validation) or none (test)
    path: str | None  # the file read
    rows: int = 0
    heads: int = 0
    relations: tuple[str, ...] = ()
    error: MtoError | None = None


def read_split(split: str, ref: str | None, path: str | None, mapping: ColumnMapping | None) -> SplitInfo:
    """Load one evaluation split (runs in a worker). Errors name the split and the file."""
    if not path:
        return SplitInfo(split, ref, None)
    try:
        with LIBRARY_LOCK:
            task = build_task_data(load_table(path, split=split), mapping)
    except DataError as exc:
        raise DataError(f"{split} file {Path(path).name}: {exc.message}", exc.hint) from None
    except OSError as exc:
        raise DataError(f"cannot read the {split} file {path}: {exc}", "check the file and its permissions") from None
    return SplitInfo(split, ref, path, len(task.examples), len(task.heads), tuple(task.relations))


def read_tokenizer(ref: str):
    """Load the tokenizer of ``ref`` (runs in a worker); a missing embedded model gets its own clear message."""
    if ref == EMBEDDED_MODEL and not (embedded_model_dir() / "config.json").is_file():
        raise ModelError(
            f"the embedded model {EMBEDDED_MODEL} is not installed yet ({embedded_model_dir()})",
            "data and templates work without it; choose another model (File ▸ Choose model…) for token counts",
        )
    with LIBRARY_LOCK:
        import transformers  # noqa: F401 - imported whole while no datasets call runs (see LIBRARY_LOCK)
    return load_tokenizer(ref)


class StudioContext(QObject):
    """The open project and what has been loaded for it. Views read its attributes and listen to its signals;
    they change the project through its methods so that every other view hears about it."""

    project_changed = Signal()  # the project changed: another one was opened, a setting changed, or it was saved
    project_opened = Signal()  # another project replaced this one (File ▸ New, Open, Open example)
    modified_changed = Signal(bool)
    data_loading = Signal(str)  # the path being read
    data_changed = Signal()  # self.data holds new rows (or a new mapping)
    data_failed = Signal(object, str)  # (MtoError, path): the file could not be read; the old data stays
    mapping_failed = Signal(object)  # MtoError: the file loaded but its columns could not be mapped
    tokenizer_loading = Signal(str)
    tokenizer_changed = Signal()  # self.tokenizer is ready (or None with self.tokenizer_error)
    library_changed = Signal()  # templates, phrases or objective decisions changed
    splits_changed = Signal()  # self.splits (validation, test) changed
    split_failed = Signal(str, object, str)  # (split, MtoError, path): the file could not be used; the old one stays
    busy_changed = Signal(int)  # number of running workers
    lock_changed = Signal()  # the project's lock was taken or refused (read-only: ``lease.busy``)

    def __init__(self, project: Project, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.workers = WorkerSet(self)
        self.workers.active_changed.connect(self.busy_changed)
        self.data: LoadedData | None = None
        self.tokenizer = None
        self.tokenizer_error: MtoError | None = None
        self.tokenizer_loading_ref: str | None = None
        self.data_loading_path: str | None = None
        #: "validation"/"test" → what the project's split holds (filled in the background)
        self.splits: dict[str, SplitInfo] = {}
        self._split_requests: dict[str, int] = {}
        self.library: TemplateLibrary = project.library()
        self._data_request = 0
        self._tokenizer_request = 0
        self._was_modified = project.is_modified
        self._profile = DataProfile()  # the domain check and mean example length, kept until an input changes
        #: the lock on the project's folder: one window writes a project at a time (one flock call when it is free);
        #: ``lease.busy`` says who held it when it was opened read-only
        self.lease = ProjectLease()
        self.lease.switch(project.folder)

    # --- project ------------------------------------------------------------------------------------------
    def release_project(self) -> None:
        """Let go of the project's lock (the window closes)."""
        self.lease.release()

    def open_project(self, project: Project, *, lock: FolderLock | None = None) -> None:
        """Show ``project``; its folder is locked first (``lock``: claimed already) and the previous project's
        lock let go. Held by another process, it opens read-only (``lease.busy``)."""
        self.lease.switch(project.folder, lock)
        self.project = project
        self.data = None
        self.splits = {}
        self.tokenizer = None
        self.tokenizer_error = None
        self.library = project.library()
        self.project_opened.emit()
        self.project_changed.emit()
        self.library_changed.emit()
        self.data_changed.emit()
        self.tokenizer_changed.emit()
        self.notify_modified()
        self.lock_changed.emit()
        self.reload()

    def reload(self) -> None:
        """Load the project's data, its evaluation splits and its tokenizer in the background."""
        self.load_data()
        self.load_splits()
        self.load_tokenizer()

    def notify_modified(self) -> None:
        modified = self.project.is_modified
        if modified != self._was_modified:
            self._was_modified = modified
            self.modified_changed.emit(modified)

    def save_project(self, folder: str | os.PathLike | None = None) -> Path:
        """Save the project (refused, with the holder named, while it is open read-only); with ``folder``: save a
        copy there, locked first, and continue there (the way out of a read-only project)."""
        target = Path(folder).expanduser() if folder is not None else self.project.folder
        if target.resolve() == self.project.folder.resolve():
            self.lease.check_writable()
            path = self.project.save()
            self.notify_modified()
            return path
        lock = self.lease.claim(target)
        try:
            path = self.project.save(target)
        except BaseException:
            if self.project.folder.resolve() == target.resolve():
                self.lease.switch(target, lock)  # it moved before failing: it lives there now
                self.lock_changed.emit()
            else:
                self.lease.drop(lock)  # nothing moved: the project stays where it was, with its own lock
            self.notify_modified()
            raise
        self.lease.switch(target, lock)
        self.notify_modified()
        self.library = self.project.library()
        self.project_changed.emit()
        self.lock_changed.emit()
        return path

    # --- data ---------------------------------------------------------------------------------------------
    def load_data(self, ref: str | None = None, mapping: ColumnMapping | None = None) -> Worker | None:
        """Read the project's data (or ``ref``, which becomes the project's data once it loads)."""
        explicit = ref is not None
        ref = ref if explicit else self.project.data
        try:
            if explicit:
                probe = Project.new(self.project.folder, data=ref)
                path = probe.data_path()
            else:
                path = self.project.data_path()
                mapping = self.project.columns
        except MtoError as exc:  # e.g. an example this installation does not ship
            self._data_request += 1
            self.data_loading_path = None
            self.data_failed.emit(exc, str(ref))
            return None
        self._data_request += 1
        request = self._data_request
        self.data_loading_path = path
        self.data_loading.emit(path)
        worker = Worker.call(read_data, ref, path, mapping, name="load-data")
        worker.returned.connect(lambda loaded, r=request: self._on_data(r, loaded, explicit))
        worker.failed.connect(lambda exc, r=request, p=path: self._on_data_failed(r, exc, p))
        return self.workers.start(worker)

    def apply_mapping(self, mapping: ColumnMapping) -> Worker | None:
        """Re-map the loaded table's columns (in the background); the new mapping is kept in the project."""
        if self.data is None:
            return None
        self._data_request += 1
        request = self._data_request
        current = self.data
        worker = Worker.call(map_data, current.ref, current.raw, mapping, name="map-columns")
        worker.returned.connect(lambda loaded, r=request: self._on_data(r, loaded, True))
        worker.failed.connect(lambda exc, r=request, p=current.path: self._on_data_failed(r, exc, p))
        return self.workers.start(worker)

    def _on_data(self, request: int, loaded: LoadedData, commit_to_project: bool) -> None:
        if request != self._data_request:
            return  # an older request finished after a newer one started
        self.data_loading_path = None
        if loaded.task is None:
            # Show the table so its columns can be mapped, but keep the project pointing at its old data.
            self.data = loaded
            self.data_changed.emit()
            self.mapping_failed.emit(loaded.error)
            return
        self.data = loaded
        if commit_to_project:
            if loaded.ref != self.project.data:
                # Another data set: a built-in one's own splits (an example's validation file) do not carry over.
                for split in ("validation", "test"):
                    if is_builtin(self._split_attr(split)):
                        setattr(self.project, f"{split}_data", None)
            self.project.data = loaded.ref
            detected = None
            try:
                detected = detect_columns(loaded.raw.columns).mapping
            except DataError:
                pass
            self.project.columns = None if loaded.task.mapping == detected else loaded.task.mapping
            self.notify_modified()
            self.project_changed.emit()
            self.load_splits()
        self.data_changed.emit()

    def _on_data_failed(self, request: int, exc: BaseException, path: str) -> None:
        if request != self._data_request:
            return
        self.data_loading_path = None
        error = (
            exc
            if isinstance(exc, MtoError)
            else DataError(f"cannot read {path}: {exc}", "check that the file is a valid data file")
        )
        self.data_failed.emit(error, path)

    # --- validation and test splits ------------------------------------------------------------------------
    def _split_attr(self, split: str) -> str | None:
        return getattr(self.project, f"{split}_data")

    def load_splits(self) -> None:
        """Read the validation and test splits the project names (or its data set brings) in the background."""
        for split in ("validation", "test"):
            self._load_split(split, self._split_attr(split), commit=False)

    def set_split(self, split: str, ref: str | None) -> Worker | None:
        """Use ``ref`` (a file, or None to clear it) as the project's validation or test split. The project
        changes only once the file has loaded; a bad file is reported by ``split_failed`` and the old one stays."""
        if split not in ("validation", "test"):
            raise ValueError(split)
        if ref is None:
            # "no file": where the data set brings its own split, say so explicitly, else it would come back
            ref = NO_SPLIT if default_ref(self.project.data, split) else None
            setattr(self.project, f"{split}_data", ref)
            self.notify_modified()
            self.project_changed.emit()
            return self._load_split(split, ref, commit=False)
        return self._load_split(split, ref, commit=True)

    def restore_split(self, split: str) -> Worker | None:
        """Use the data set's own ``split`` again (the world's test split, an example's validation file)."""
        setattr(self.project, f"{split}_data", None)
        self.notify_modified()
        self.project_changed.emit()
        return self._load_split(split, None, commit=False)

    def _load_split(self, split: str, ref: str | None, *, commit: bool) -> Worker | None:
        request = self._split_requests.get(split, 0) + 1
        self._split_requests[split] = request
        try:
            probe = Project.new(self.project.folder, data=self.project.data, **{f"{split}_data": ref})
            path = probe.split_path(split)
        except MtoError as exc:
            self.splits[split] = SplitInfo(split, ref, None, error=exc)
            self.splits_changed.emit()
            if commit:
                self.split_failed.emit(split, exc, str(ref))
            return None
        mapping = self.project.columns
        worker = Worker.call(read_split, split, ref, path, mapping, name=f"load-{split}")
        worker.returned.connect(lambda info, r=request: self._on_split(split, r, info, commit))
        worker.failed.connect(lambda exc, r=request, p=path: self._on_split_failed(split, r, exc, p, commit))
        return self.workers.start(worker)

    def _on_split(self, split: str, request: int, info: SplitInfo, commit: bool) -> None:
        if request != self._split_requests.get(split):
            return
        if commit:
            setattr(self.project, f"{split}_data", info.ref)
            self.notify_modified()
            self.project_changed.emit()
        self.splits[split] = info
        self.splits_changed.emit()

    def _on_split_failed(self, split: str, request: int, exc: BaseException, path: str, commit: bool) -> None:
        if request != self._split_requests.get(split):
            return
        error = (
            exc
            if isinstance(exc, MtoError)
            else DataError(f"cannot read the {split} file {path}: {exc}", "check that the file is a valid data file")
        )
        if commit:
            self.split_failed.emit(split, error, path)
            return  # the project keeps its old split
        self.splits[split] = SplitInfo(split, self._split_attr(split), path, error=error)
        self.splits_changed.emit()

    # --- model --------------------------------------------------------------------------------------------
    def set_model(self, ref: str) -> Worker:
        self.project.model = ref
        self.notify_modified()
        self.project_changed.emit()
        return self.load_tokenizer()

    def load_tokenizer(self) -> Worker:
        ref = self.project.model_ref()
        self._tokenizer_request += 1
        request = self._tokenizer_request
        self.tokenizer_loading_ref = ref
        self.tokenizer_loading.emit(ref)
        worker = Worker.call(read_tokenizer, ref, name="load-tokenizer")
        worker.returned.connect(lambda tok, r=request: self._on_tokenizer(r, tok, None))
        worker.failed.connect(lambda exc, r=request: self._on_tokenizer(r, None, exc))
        return self.workers.start(worker)

    def _on_tokenizer(self, request: int, tokenizer, exc: BaseException | None) -> None:
        if request != self._tokenizer_request:
            return
        self.tokenizer_loading_ref = None
        self.tokenizer = tokenizer
        if exc is not None and not isinstance(exc, MtoError):
            exc = ModelError(f"cannot load the tokenizer: {exc}", "pick another model folder")
        self.tokenizer_error = exc
        self.tokenizer_changed.emit()

    @property
    def sentinel_style(self) -> SentinelStyle | None:
        return sentinel_style_for(self.tokenizer)

    def profile(self) -> DataProfile | None:
        """What the data says about the model (gui/data_profile.py); None without data or tokenizer."""
        task = self.data.task if self.data is not None else None
        if task is None or self.tokenizer is None or not task.examples:
            return None
        return self._profile.of(self.project.model, task, self.tokenizer)

    # --- templates and phrases -------------------------------------------------------------------------------
    def set_phrase(self, relation: str, phrase: Phrase | None) -> None:
        self.project.set_phrase(relation, phrase)
        self._rebuild_library()
        self.notify_modified()

    def save_template(self, template: Template, *, replacing: str | None = None) -> Path:
        self.lease.check_writable()
        path = self.project.save_template(template, replacing=replacing)
        self._rebuild_library()
        return path

    def delete_template(self, name: str) -> None:
        self.lease.check_writable()
        self.project.delete_template(name)
        self._rebuild_library()

    def _rebuild_library(self) -> None:
        self.library = self.project.library()
        self.library_changed.emit()

    def objectives_changed(self) -> None:
        """The project's objective decisions (or experiments) were edited in place: the library follows them."""
        self._rebuild_library()
        self.notify_modified()

    # --- requests between workbenches ------------------------------------------------------------------------
    def set_resume_handler(self, handler) -> None:
        """Who continues a stopped experiment (the main window hands it to the Trainer)."""
        self._resume_handler = handler

    def resume_experiment(self, folder: str | os.PathLike):
        """Continue the experiment in ``folder`` (the Runs view asks; the Trainer runs it). Returns its worker, or
        None when it cannot start now (the handler says why)."""
        handler = getattr(self, "_resume_handler", None)
        return handler(Path(folder)) if handler is not None else None

    # --- closing -------------------------------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 15_000, *, wait: bool = True) -> bool:
        """Stop every worker and (``wait``) wait for it; True when all ended. The context's own workers only read
        (data, splits, tokenizer): closing the window need not wait for them, the app waits once its loop ends.
        The project's lock is let go."""
        self.release_project()
        return self.workers.stop_all(timeout_ms if wait else 0)
