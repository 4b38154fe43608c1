"""One writer per folder: an OS-level lock on a run, experiment or pre-training folder while a job writes it.

The lock is ``fcntl.flock`` (POSIX) or ``msvcrt.locking`` (Windows) on ``.mto-studio.lock`` inside the folder: the
operating system drops it when the process ends, however it ends, so a lock file left by a killed process (its
holder dead) never blocks. The file records the holder (PID, host, since when, command) for the message a second
writer gets; it is removed when the holder releases the lock. The ``filelock`` package is not a declared dependency
(only a transitive one whose API changed across major versions), so this uses the OS calls directly.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mto_studio.core.errors import ConfigError, MtoError

#: the lock file inside a locked folder
LOCK_FILE = ".mto-studio.lock"
#: a refused lock is tried again for this long: a reader that probes the lock (``holder_of``) holds it for
#: microseconds, and must not make a writer that starts at that moment fail
RETRY_S = 0.25
#: Windows locks a byte range; the byte far past the holder's record keeps that record readable by others
_WINDOWS_LOCK_OFFSET = 0x7FFFFFFF

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            pass

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:
            return True  # a file system without locks (ENOLCK, EOPNOTSUPP): work on, unguarded, rather than refuse
        return True

    def _unlock(fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (a releasing holder may have removed it meanwhile)."""
    if sys.platform == "win32":  # pragma: no cover - Windows cannot remove a file that is open
        return path.exists()
    try:
        named = os.stat(path)
    except OSError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def command_line(argv: list[str] | None = None) -> str:
    """The holder's command as a person would type it: ``mto-studio train``, ``mto-studio`` (the app), or the
    program's name."""
    argv = list(sys.argv if argv is None else argv)
    if not argv or argv[0] in ("", "-", "-c"):
        return "python"
    path = Path(argv[0])
    ours = path.name.startswith(("mto-studio", "mto_studio", "MTO")) or path.parent.name == "mto_studio"
    if not ours:
        return path.name
    words = [a for a in argv[1:] if not a.startswith("-")]
    return f"mto-studio {words[0]}" if words else "MTO Studio"


@dataclass(frozen=True)
class Holder:
    """Who holds a folder's lock."""

    pid: int
    host: str
    since: float
    command: str

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "host": self.host, "since": self.since, "command": self.command}

    @classmethod
    def from_text(cls, text: str) -> Holder | None:
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["host"]), float(data["since"]), str(data.get("command", "")))
        except (ValueError, TypeError, KeyError):
            return None  # written at this very moment, or not ours

    @classmethod
    def me(cls) -> Holder:
        return cls(os.getpid(), socket.gethostname(), time.time(), command_line())

    def describe(self) -> str:
        """``PID 1234 since 10:42:07 (mto-studio train)``; the host when it is another machine, the date when it is
        not today."""
        moment = time.localtime(self.since)
        same_day = time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d")
        since = time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S", moment)
        if self.pid <= 0:
            return "another process"
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        command = f" ({self.command})" if self.command else ""
        return f"PID {self.pid}{where} since {since}{command}"


class FolderBusyError(MtoError):
    """Another process (or another job of this one) writes the folder now."""

    def __init__(self, folder: Path, what: str, holder: Holder | None, hint: str) -> None:
        self.folder = folder
        self.holder = holder
        who = holder.describe() if holder is not None else "another process"
        super().__init__(f"{what} {folder} is in use by {who}", hint)


def _read_holder(path: Path) -> Holder | None:
    try:
        return Holder.from_text(path.read_text(encoding="utf-8"))
    except OSError:
        return None


def holder_of(folder: str | os.PathLike) -> Holder | None:
    """The live holder of ``folder``'s lock; None when nobody holds it (no lock file, or one whose holder died).
    A holder whose record cannot be read yet shows as PID 0."""
    path = Path(folder) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None  # no lock file (never locked, or released), or not ours to open
    try:
        if _try_lock(fd):
            _unlock(fd)  # nobody holds it: the file is a leftover of a process that ended
            return None
    finally:
        os.close(fd)
    return _read_holder(path) or Holder(0, socket.gethostname(), time.time(), "")


def folder_in_use(folder: str | os.PathLike) -> bool:
    """Whether a live process holds ``folder``'s lock."""
    return holder_of(folder) is not None


class FolderLock:
    """The lock on one folder; a context manager. ``acquire`` creates the folder (and its missing parents) if
    needed and raises FolderBusyError, before anything is written, when another writer holds it. ``release`` removes
    the lock file, and the folders ``acquire`` created if they are still empty (a job that failed before writing
    leaves nothing behind)."""

    def __init__(
        self,
        folder: str | os.PathLike,
        *,
        what: str = "folder",
        hint: str = "wait for it to finish, or choose another folder (--out)",
    ) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self.what = what
        self.hint = hint
        self._fd: int | None = None
        self._created: list[Path] = []

    def __repr__(self) -> str:
        return f"FolderLock({str(self.folder)!r}, held={self.held})"

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _make_folder(self) -> None:
        missing = []
        folder = self.folder
        while not folder.exists() and folder != folder.parent:
            missing.append(folder)
            folder = folder.parent
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise ConfigError(
                f"{self.folder} is a file, not a folder", "choose a folder for the output (--out)"
            ) from None
        except NotADirectoryError:
            raise ConfigError(
                f"cannot make the folder {self.folder}: a part of its path is a file", "choose another folder (--out)"
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"cannot make the folder {self.folder}: {exc.strerror or exc}",
                "choose a folder you can write to (--out)",
            ) from None
        self._created = missing  # deepest first

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except IsADirectoryError:
            raise ConfigError(f"{self.path} is a folder", "remove it: MTO Studio keeps its lock file there") from None
        except OSError as exc:
            raise ConfigError(
                f"cannot write in the folder {self.folder}: {exc.strerror or exc}",
                "choose a folder you can write to (--out)",
            ) from None

    def acquire(self) -> FolderLock:
        if self._fd is not None:
            return self
        self._make_folder()
        deadline = time.monotonic() + RETRY_S
        try:
            while True:
                fd = self._open()
                if _try_lock(fd):
                    if _same_file(fd, self.path):
                        break
                    _unlock(fd)  # locked a file its holder removed on release: take the one there now
                    os.close(fd)
                    continue
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise FolderBusyError(self.folder, self.what, _read_holder(self.path), self.hint)
                time.sleep(0.02)
        except BaseException:
            self._remove_created()
            raise
        self._fd = fd
        record = json.dumps(Holder.me().to_dict()).encode("utf-8")
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, record)
        except OSError:
            pass  # a full disk: the lock holds all the same; a second writer then reads "another process"
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if sys.platform != "win32":
            try:
                self.path.unlink()  # while still holding it: a writer that opened it meanwhile retries
            except OSError:
                pass
        _unlock(fd)
        os.close(fd)
        if sys.platform == "win32":  # pragma: no cover
            try:
                self.path.unlink()
            except OSError:
                pass
        self._remove_created()

    def _remove_created(self) -> None:
        for folder in self._created:
            try:
                folder.rmdir()  # only while empty
            except OSError:
                break
        self._created = []

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
