"""Atomic file writes (a temporary file in the same folder, fsync, then a rename over the target) and the one place
that recognises a full disk, whatever the library that hit it raised."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mto_studio.core.errors import MtoError

#: errno values that mean "no room left": the disk is full, or the user's quota is used up
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_FULL_WINERRORS = {39, 112}  # ERROR_HANDLE_DISK_FULL, ERROR_DISK_FULL
#: how libraries word it when they do not pass the OSError on: safetensors ("… (os error 28)"), SQLite, the C runtime
_FULL_WORDS = ("no space left on device", "database or disk is full", "disk quota exceeded", "os error 28",
               "not enough space on the disk", "disk full while writing")  # fmt: skip


class DiskFullError(MtoError):
    """The disk filled up while writing ``what`` (a file name, or a part of a run in words, e.g. "the checkpoint
    of step 40"); ``path`` is where. Whatever was written before stays as it was."""

    def __init__(self, what: str, path: str | os.PathLike | None = None, hint: str = "free disk space and try again"):
        self.what = what
        self.path = Path(path) if path is not None else None
        super().__init__(f"disk full while writing {what}", hint)


class NotEnoughSpaceError(MtoError):
    """Before work starts: the disk has less free space than the work is estimated to need."""


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from or while handling) says the disk is full: an OSError
    with ENOSPC/EDQUOT, SQLite's SQLITE_FULL, or a library's own error that words it (torch.save raises a
    RuntimeError whose context is the OSError; safetensors says "No space left on device (os error 28)")."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DiskFullError):
            return True
        if isinstance(exc, OSError) and (
            exc.errno in _FULL_ERRNOS or getattr(exc, "winerror", None) in _FULL_WINERRORS
        ):
            return True
        if getattr(exc, "sqlite_errorname", None) == "SQLITE_FULL":
            return True
        if mentions_disk_full(str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def mentions_disk_full(text: str) -> bool:
    """Whether a message (an error's, or a failed run's reason) says the disk is full."""
    return any(words in text.lower() for words in _FULL_WORDS)


def disk_full_error(exc: BaseException | None, what: str = "a file") -> DiskFullError | None:
    """The DiskFullError behind ``exc`` (the first one in its chain, which names what was being written), a new one
    naming ``what`` when the chain only shows the OS's error, or None when the disk is not full."""
    seen: set[int] = set()
    cause = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, DiskFullError):
            return cause
        cause = cause.__cause__ or cause.__context__
    return DiskFullError(what) if is_disk_full(exc) else None


@contextmanager
def writing(what: str, path: str | os.PathLike | None = None) -> Iterator[None]:
    """Around a write: a full disk inside the block, whatever the library raised, becomes DiskFullError naming
    ``what``; other errors pass unchanged."""
    try:
        yield
    except DiskFullError:
        raise
    except Exception as exc:
        if is_disk_full(exc):
            raise DiskFullError(what, path) from exc
        raise


def megabytes(n: float) -> int:
    """Bytes as whole megabytes (10^6), rounded up: what a user has to free."""
    return max(1, math.ceil(n / 1e6))


def free_space(path: str | os.PathLike) -> int | None:
    """Free bytes on the disk that holds ``path`` (or its nearest existing parent); None when it cannot be told."""
    folder = Path(path).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def check_free_space(path: str | os.PathLike, needed: int, what: str) -> None:
    """Raise NotEnoughSpaceError, before anything is written, when the disk of ``path`` has less than ``needed``
    bytes free for ``what``."""
    free = free_space(path)
    if free is not None and free < needed:
        raise NotEnoughSpaceError(
            f"not enough free disk space for {what} in {path}: it needs about {megabytes(needed)} MB "
            f"(checkpoints and saved weights), {free / 1e6:.0f} MB are free",
            "free disk space, or choose a folder on another disk (--out)",
        )


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` so that ``path`` holds either the old or the new content, never a torn file. A full disk
    raises DiskFullError naming the file; the temporary file is removed and the previous content stays."""
    path = Path(path)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.chmod(tmp, _file_mode(path))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if is_disk_full(exc):
            raise DiskFullError(path.name, path, "free disk space; the previous file is unchanged") from exc
        if isinstance(exc, OSError):
            raise MtoError(
                f"could not write {path}: {exc.strerror or exc}",
                "check that the folder is writable; the previous file is unchanged",
            ) from exc
        raise
    return path


def _file_mode(path: Path) -> int:
    """Keep an existing file's mode; new files get the usual 0o666 minus the umask (mkstemp would make 0o600)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def unreachable_path(path: Path, what: str) -> tuple[str, str] | None:
    """Why ``path`` cannot be reached though something may be there — a symbolic link loop, a dangling link, a
    folder without permission — as (problem, fix), or None. These look like "not found" to ``Path.exists``;
    ``what`` names the thing in the fix ("the data file", "the model folder")."""
    try:
        path.stat()
    except OSError as exc:
        fix = f"point the link at {what}, or give its own path"
        if exc.errno == errno.ELOOP:
            return f"{path} is a symbolic link loop (a link that leads back to itself)", fix
        if path.is_symlink():
            return f"{path} is a link to {os.readlink(path)}, which does not exist", fix
        if exc.errno in (errno.EACCES, errno.ENOTDIR):
            return f"cannot reach {path}: {exc.strerror}", "check the path and its folders' permissions"
    return None
