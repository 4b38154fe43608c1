"""Run and experiment folders: the one owner of their file names, readers, writers and of "resumable".

A run folder::

    config.json        the TrainConfig (and the resolved model)       environment.json  library versions, device
    template.toml      the template as trained (hash in run.json)    run.json          template, seed, method, k
    split.json         training rows, eval heads + kept references   metrics.jsonl     every event, flushed at once
    checkpoints/       resumable state (weights, optimizer)           result.json       status, scores and where
    predictions.jsonl  the scored heads' predictions                                    they come from
    model/ prompt/ lora/   the trained (best) weights, soft prompts or adapter: full weights only for fine-tuning

checkpoints/ stays while a run is live, stopped, interrupted or failed (to resume it); a run that finishes removes
it (result.json: ``checkpoints``, ``freed_bytes``) unless its config says ``keep_checkpoints``. Nothing that reads a
finished run (results, reports, the store, the Runs view) needs it.
    .mto-studio.lock   while a process writes the folder: its lock and who holds it (``locks.py``)

An experiment folder holds experiment.json (its ExperimentConfig), runs/NNN-…/ (one run folder each), an optional
adaptation/ run, and its tables, plots and report; and its lock while an experiment runs in it.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from mto_studio.core.fsio import atomic_write_json, atomic_write_text, writing
from mto_studio.core.jobs.status import RunStatus
from mto_studio.core.store.locks import FolderLock


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class RunLog:
    """metrics.jsonl: one JSON line per event, flushed at once (a killed process keeps every line: the OS holds
    it) and fsynced for milestones (evaluations, checkpoints, the end), which must also survive a power cut."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, event) -> None:
        """Append one line. A full disk raises DiskFullError and cuts the line back off, so the next line (the
        failure's own, once there is room) does not join a torn one."""
        record = event.to_dict() if hasattr(event, "to_dict") else dict(event)
        data = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        with writing(self.path.name, self.path):
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
            try:
                end = os.lseek(fd, 0, os.SEEK_END)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    if record.get("event") != "StepLogged":
                        os.fsync(fd)
                except BaseException:
                    try:
                        os.ftruncate(fd, end)
                    except OSError:
                        pass
                    raise
            finally:
                os.close(fd)

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after ``step`` (work a crash lost and a resume will redo)."""
        if not self.path.exists():
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line torn by the crash
            if record.get("step", 0) <= step or record["event"] == "RunStarted":
                kept.append(line)
        atomic_write_text(self.path, "\n".join(kept) + ("\n" if kept else ""))

    def events(self) -> list[dict[str, Any]]:
        """Every readable line (a line torn by a crash is skipped)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


class RunFolder:
    """One run's folder."""

    CONFIG = "config.json"
    LOG = "metrics.jsonl"
    RESULT = "result.json"
    SPLIT = "split.json"
    RUN = "run.json"
    ENVIRONMENT = "environment.json"
    TEMPLATE = "template.toml"
    PREDICTIONS = "predictions.jsonl"
    ERROR = "error.txt"
    CHECKPOINTS = "checkpoints"
    #: the files written once, when a run starts
    STATIC = (CONFIG, TEMPLATE, SPLIT, RUN, ENVIRONMENT)
    #: the trained weights, soft prompts or adapter (one of them, by method)
    ARTIFACTS = ("model", "prompt", "lora")

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def log(self) -> RunLog:
        return RunLog(self.path / self.LOG)

    @property
    def checkpoints(self) -> Path:
        return self.path / self.CHECKPOINTS

    # --- reading --------------------------------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return _read_json(self.path / self.CONFIG)

    def result(self) -> dict[str, Any]:
        return _read_json(self.path / self.RESULT)

    def run_info(self) -> dict[str, Any]:
        return _read_json(self.path / self.RUN)

    def split(self) -> dict[str, Any]:
        return _read_json(self.path / self.SPLIT)

    def events(self) -> list[dict[str, Any]]:
        return self.log.events()

    def template_text(self) -> str | None:
        try:
            return (self.path / self.TEMPLATE).read_text(encoding="utf-8")
        except OSError:
            return None

    def status(self) -> RunStatus | None:
        """What result.json says; a folder with checkpoints and no result was interrupted; else None (not
        started)."""
        if (self.path / self.RESULT).exists():
            return RunStatus.parse(self.result().get("status"))
        if self.checkpoints.is_dir():
            return RunStatus.INTERRUPTED
        return None

    def is_resumable(self) -> bool:
        """Stopped or interrupted, or failed for want of disk space (result.json says ``resumable``), with a
        checkpoint to continue from. A finished run never is (its checkpoints are gone, or kept only on request)."""
        status = self.status()
        if status is RunStatus.FAILED:
            return self.result().get("resumable") is True and self.checkpoints.is_dir()
        return (
            status is not None and status.can_resume and status is not RunStatus.RUNNING and self.checkpoints.is_dir()
        )

    # --- writing --------------------------------------------------------------------------------------------------
    def write_json(self, name: str, data: dict[str, Any]) -> Path:
        return atomic_write_json(self.path / name, data)

    def write_text(self, name: str, text: str) -> Path:
        return atomic_write_text(self.path / name, text)

    def write_result(self, status: RunStatus, **fields: Any) -> Path:
        return atomic_write_json(self.path / self.RESULT, {"status": status.value, **fields})

    def lock(self) -> FolderLock:
        """The lock a run takes (``with folder.lock():``) before it writes here, fresh or resumed."""
        return FolderLock(self.path, what="run folder")


def template_label(ref: str | None) -> str:
    """A template as people read it: its name, not the path of a project template's file."""
    if not ref:
        return ""
    text = str(ref)
    return Path(text).stem if text.endswith(".toml") else text


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-")


class ExperimentFolder:
    """One experiment's folder: experiment.json, runs/NNN-template-method-k-seed/, adaptation/, outputs."""

    CONFIG = "experiment.json"
    RUNS = "runs"
    ADAPTATION = "adaptation"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @classmethod
    def new(cls, parent: str | os.PathLike, name: str) -> ExperimentFolder:
        """A folder for a new experiment under ``parent``: <name>-<date-time>, made unique with -2, -3 …
        (not created yet)."""
        base = Path(parent) / f"{slug(name) or 'experiment'}-{time.strftime('%Y%m%d-%H%M%S')}"
        folder, n = base, 2
        while folder.exists():
            folder = base.with_name(f"{base.name}-{n}")
            n += 1
        return cls(folder)

    @staticmethod
    def run_name(index: int, template: str, method: str, shots: int | None, seed: int) -> str:
        k = "full" if shots is None else f"k{shots}"
        return f"{index:03d}-{slug(template)}-{method}-{k}-s{seed}"

    def run(self, name: str) -> RunFolder:
        return RunFolder(self.path / self.RUNS / name)

    @property
    def adaptation(self) -> RunFolder:
        return RunFolder(self.path / self.ADAPTATION)

    @property
    def config_file(self) -> Path:
        return self.path / self.CONFIG

    def config(self) -> dict[str, Any]:
        return _read_json(self.config_file)

    def write_config(self, data: dict[str, Any]) -> Path:
        return atomic_write_json(self.config_file, data)

    def lock(self) -> FolderLock:
        """The lock an experiment takes (``with folder.lock():``) before it writes here, fresh or resumed."""
        return FolderLock(self.path, what="experiment folder")

    def is_resumable(self, status: RunStatus | str | None) -> bool:
        """An experiment left stopped, interrupted or running (by a process that is gone) whose folder still has its
        experiment.json continues where it stopped."""
        parsed = RunStatus.parse(status) if not isinstance(status, RunStatus) else status
        return parsed is not None and parsed.can_resume and self.config_file.is_file()
