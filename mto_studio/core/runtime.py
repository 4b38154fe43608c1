"""Process-wide settings that must be in place before torch or the HF libraries do any work."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

_OFFLINE_VARS = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def prepare_environment(offline: bool | None = None) -> None:
    """Set thread and network defaults. Call before importing torch.

    OMP_WAIT_POLICY=PASSIVE stops OpenMP threads from spin-waiting, which on a 2-core machine otherwise
    starves the GUI thread and any second process. Offline mode is on unless MTO_ONLINE=1, so local files
    never wait on hub look-ups; a user who wants hub ids sets MTO_ONLINE=1.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if offline is None:
        offline = os.environ.get("MTO_ONLINE", "") not in ("1", "true", "yes")
    if offline:
        for key, value in _OFFLINE_VARS.items():
            os.environ.setdefault(key, value)
    if getattr(sys, "frozen", False):
        _bundle_caches()


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
        return True
    except OSError:
        return False


def cache_dir() -> Path:
    """A writable folder for caches: $MTO_CACHE_DIR, else the platform's user cache dir, else a temp folder."""
    override = os.environ.get("MTO_CACHE_DIR")
    candidates = [Path(override).expanduser()] if override else []
    try:
        import platformdirs

        candidates.append(Path(platformdirs.user_cache_dir("mto-studio", appauthor=False)))
    except Exception:  # no platformdirs, or no home folder to derive a cache dir from
        pass
    for candidate in candidates:
        if _writable(candidate):
            return candidate
    fallback = Path(tempfile.gettempdir()) / f"mto-studio-cache-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def _bundle_caches() -> None:
    """In a packaged bundle (PyInstaller sets sys.frozen), keep every cache in a writable folder that outlives the
    session, never in the (possibly read-only) install folder.

    HF caches (hub models, datasets' builder cache and dynamic modules): the usual ~/.cache/huggingface, shared with
    the user's other HF tools, when it is writable; else our cache dir. MPLCONFIGDIR (matplotlib's font cache) is
    overridden: PyInstaller's matplotlib run-time hook has already replaced any value with a temp folder it deletes
    at exit, which would rebuild the font cache in every session that draws a report."""
    if "HF_HOME" not in os.environ:
        try:
            usual = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "huggingface"
        except RuntimeError:  # no home folder
            usual = None
        if usual is None or not _writable(usual):
            os.environ["HF_HOME"] = str(cache_dir() / "huggingface")
    os.environ["MPLCONFIGDIR"] = str(cache_dir() / "matplotlib")


def is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true", "True")


def default_threads() -> int:
    """One torch thread for training by default: on 2 shared cores, more threads run many times slower."""
    return max(1, int(os.environ.get("MTO_THREADS", "1")))
