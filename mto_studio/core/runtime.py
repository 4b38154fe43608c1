"""Process-wide settings that must be in place before torch or the HF libraries do any work."""

from __future__ import annotations

import os

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


def is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true", "True")


def default_threads() -> int:
    """One torch thread for training by default: on 2 shared cores, more threads run many times slower."""
    return max(1, int(os.environ.get("MTO_THREADS", "1")))
