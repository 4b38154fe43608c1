"""One window writes a project at a time: the lock on the open project's folder, and what a window that did not get
it may do (read it and run experiments and analyses, which lock their own folders; not save it).

The lock is a ``FolderLock`` (one ``flock`` call when the project is free): the operating system drops it when the
process ends, however it ends, so a window that crashed never keeps a project locked.
"""

from __future__ import annotations

import os
from pathlib import Path

from mto_studio.core.errors import MtoError
from mto_studio.core.project.fileformat import ProjectError
from mto_studio.core.store.locks import FolderBusyError, FolderLock, holder_of

PROJECT_LOCK_HINT = "close the other MTO Studio window that has it open, or open another project"


def project_lock(folder: str | os.PathLike) -> FolderLock:
    """The (not yet acquired) lock on the project in ``folder``."""
    return FolderLock(folder, what="project", hint=PROJECT_LOCK_HINT)


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.expanduser().resolve() == b.expanduser().resolve()
    except OSError:
        return a == b


class ProjectLease:
    """The lock this process holds on its open project's folder, or why it holds none: ``busy`` is the error of a
    project another live process held when it was opened here (the project is then open read-only)."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.busy: FolderBusyError | None = None
        self._lock: FolderLock | None = None

    def __repr__(self) -> str:
        return f"ProjectLease({self.folder!r}, held={self.held}, read_only={self.read_only})"

    @property
    def held(self) -> bool:
        return self._lock is not None and self._lock.held

    @property
    def read_only(self) -> bool:
        return self.busy is not None

    def claim(self, folder: str | os.PathLike) -> FolderLock:
        """The lock on ``folder``, acquired: the one held now when it is the same folder. Raises FolderBusyError when
        another process (or another window of this one) holds it. The caller passes it to ``switch`` or releases it."""
        folder = Path(folder)
        if self._lock is not None and self._lock.held and _same_folder(self._lock.folder, folder):
            return self._lock
        return project_lock(folder).acquire()

    def switch(self, folder: str | os.PathLike, lock: FolderLock | None = None) -> FolderBusyError | None:
        """Make ``folder`` the open project's: take its lock (or use ``lock``, claimed before), then release the
        previous project's. Returns the error when another process holds it: the project is then read-only. A
        folder that cannot hold a lock file (read-only media) opens unguarded; saving it reports its own error."""
        folder = Path(folder)
        busy = None
        if lock is None:
            try:
                lock = self.claim(folder)
            except FolderBusyError as exc:
                busy = exc
            except MtoError:
                lock = None
        previous = self._lock
        self.folder, self.busy, self._lock = folder, busy, lock
        if previous is not None and previous is not lock:
            previous.release()
        return busy

    def check_writable(self) -> None:
        """Raise, naming the holder and the fix, when this project is open read-only: FolderBusyError (the same
        message as when it was opened) while the holder lives; a ProjectError once it has ended (what it saved
        meanwhile would be overwritten: the project must be opened again)."""
        if self.busy is None or self.folder is None:
            return
        holder = holder_of(self.folder)
        if holder is not None:
            raise FolderBusyError(self.folder, "project", holder, PROJECT_LOCK_HINT)
        who = self.busy.holder.describe() if self.busy.holder is not None else "another process"
        raise ProjectError(
            f"project {self.folder} is open read-only: {who} had it open when it was opened here",
            "open it again (File ▸ Open project) to edit it; saving this copy could overwrite what the other "
            "window saved",
        )

    def drop(self, lock: FolderLock) -> None:
        """Release a lock from ``claim`` that ``switch`` did not take over (never the open project's own)."""
        if lock is not self._lock:
            lock.release()

    def release(self) -> None:
        """Let go of the lock (closing the window); the project stays as it is in memory."""
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()
