"""The run store: experiments, runs and metric series in SQLite (stdlib), written as training goes.

WAL journaling lets the GUI read while a worker writes; every event is its own transaction, so a killed process
leaves every committed row readable, and a failed write is rolled back (the connection is never left inside a
transaction). Several processes may write one store: a run's row is made with ``INSERT … ON CONFLICT``. Runs whose
process died while 'running' are marked 'interrupted' (and stay resumable from their folder) by ``mark_interrupted``
when the app opens the store; a run whose folder a live process has locked (``locks.py``) is left alone.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mto_studio.core.errors import MtoError
from mto_studio.core.fsio import DiskFullError, is_disk_full
from mto_studio.core.jobs.events import (
    CheckpointSaved,
    EvalDone,
    Event,
    RunFailed,
    RunFinished,
    RunStarted,
    StepLogged,
)
from mto_studio.core.store.locks import folder_in_use
from mto_studio.core.store.run_folder import template_label

SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    folder TEXT,
    config TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    experiment_id INTEGER REFERENCES experiments(id) ON DELETE CASCADE,
    folder TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    template TEXT,
    method TEXT,
    shots TEXT,
    seed INTEGER,
    status TEXT NOT NULL DEFAULT 'queued',
    reason TEXT,
    step INTEGER NOT NULL DEFAULT 0,
    total_steps INTEGER NOT NULL DEFAULT 0,
    config TEXT,
    metrics TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    examples_seen INTEGER NOT NULL,
    split TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics(run_id, split, name, step);
CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs(experiment_id);
"""
SCHEMA_VERSION = 1
ACTIVE = ("running", "queued")


@dataclass(frozen=True)
class RunRow:
    id: int
    experiment_id: int | None
    folder: str
    name: str
    template: str | None
    method: str | None
    shots: str | None
    seed: int | None
    status: str
    reason: str | None
    step: int
    total_steps: int
    config: dict[str, Any]
    metrics: dict[str, Any]
    created: float
    updated: float

    @property
    def scored_on(self) -> str | None:
        """ "test" or "validation": where the run's reported metrics come from (None before it finished)."""
        split = self.metrics.get("scored_on")
        return split if isinstance(split, str) else None


@dataclass(frozen=True)
class ExperimentRow:
    id: int
    name: str
    folder: str | None
    config: dict[str, Any]
    status: str
    created: float
    updated: float


class RunStore:
    """One SQLite file. Open one RunStore per thread (connections are not shared across threads)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        db = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:  # opening writes nothing after
                db.executescript(SCHEMA)  # the first time (a writer stopped mid-transaction cannot block a reader)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as exc:
            if db is not None:
                db.close()
            raise MtoError(
                f"cannot open the run store {self.path}: {exc}",
                "check free disk space and that the folder is writable; if the file is damaged, move it aside "
                "(run folders keep every run's config and metrics)",
            ) from exc
        self._db = db
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def in_transaction(self) -> bool:
        return self._db.in_transaction

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (taken at once, so two writers queue instead of failing halfway). Whatever fails
        inside (a constraint, a full disk, an interrupt) is rolled back: the connection never stays in a
        transaction. SQLite's errors become an MtoError naming the store."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                self._rollback()
                if isinstance(exc, sqlite3.Error):
                    raise self._write_error(exc) from exc
                raise

    def _rollback(self) -> None:
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite rolls back by itself when the statement that failed was the transaction's end

    def _write_error(self, exc: sqlite3.Error) -> MtoError:
        if is_disk_full(exc):
            return DiskFullError(
                f"the run store {self.path}", self.path, "free disk space; the run folder still records the run"
            )
        text = str(exc)
        if "full" in text.lower():
            hint = "free disk space"
        elif isinstance(exc, sqlite3.OperationalError):
            hint = "check free disk space and that the store's folder is writable"
        else:
            hint = "report this if it happens again"
        return MtoError(f"cannot write the run store {self.path}: {text}", f"{hint}; the run folder still records it")

    def _write(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self._transaction() as db:
            return db.execute(sql, tuple(params))

    def _insert(self, sql: str, params: Iterable[Any]) -> int:
        """Write one row; returns its id."""
        row_id = self._write(sql, params).lastrowid
        assert row_id is not None, "sqlite3 sets lastrowid after an INSERT"
        return row_id

    def _write_many(self, sql: str, rows: list[tuple]) -> None:
        with self._transaction() as db:
            db.executemany(sql, rows)

    # --- experiments ----------------------------------------------------------------------------------------
    def create_experiment(self, name: str, config: dict[str, Any], folder: str | Path | None = None) -> int:
        now = time.time()
        return self._insert(
            "INSERT INTO experiments(name, folder, config, status, created, updated) VALUES (?, ?, ?, 'running', ?, ?)",
            (name, str(folder) if folder else None, json.dumps(config), now, now),
        )

    def set_experiment_status(self, experiment_id: int, status: str) -> None:
        self._write("UPDATE experiments SET status=?, updated=? WHERE id=?", (status, time.time(), experiment_id))

    def experiments(self) -> list[ExperimentRow]:
        rows = self._db.execute("SELECT * FROM experiments ORDER BY id").fetchall()
        return [
            ExperimentRow(
                r["id"], r["name"], r["folder"], json.loads(r["config"]), r["status"], r["created"], r["updated"]
            )
            for r in rows
        ]

    def experiment(self, experiment_id: int) -> ExperimentRow:
        found = [e for e in self.experiments() if e.id == experiment_id]
        if not found:
            raise MtoError(f"no experiment {experiment_id} in {self.path}", "pick one from the runs view")
        return found[0]

    def delete_experiment(self, experiment_id: int) -> None:
        self._write("DELETE FROM experiments WHERE id=?", (experiment_id,))

    # --- runs -----------------------------------------------------------------------------------------------
    def upsert_run(
        self,
        folder: str | Path,
        *,
        name: str,
        experiment_id: int | None = None,
        config: dict[str, Any] | None = None,
        status: str = "queued",
    ) -> int:
        """The run with this folder (created if new); returns its id. Race-free: two processes that make the same
        run at once get the same row (an existing row keeps its fields; it only gains an experiment it lacked)."""
        folder = str(folder)
        config = config or {}
        shots = config.get("shots")
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO runs(experiment_id, folder, name, template, method, shots, seed, status, total_steps, "
                "config, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(folder) DO UPDATE SET experiment_id = COALESCE(runs.experiment_id, excluded.experiment_id)",
                (
                    experiment_id,
                    folder,
                    name,
                    template_label(config.get("template")),
                    config.get("method"),
                    "full" if shots is None else str(shots),
                    config.get("seed"),
                    status,
                    int(config.get("steps", 0)),
                    json.dumps(config),
                    now,
                    now,
                ),
            )
            row = db.execute("SELECT id FROM runs WHERE folder=?", (folder,)).fetchone()
        return int(row["id"])

    def runs(self, experiment_id: int | None = None) -> list[RunRow]:
        if experiment_id is None:
            rows = self._db.execute("SELECT * FROM runs ORDER BY id").fetchall()
        else:
            rows = self._db.execute("SELECT * FROM runs WHERE experiment_id=? ORDER BY id", (experiment_id,)).fetchall()
        return [self._run_row(r) for r in rows]

    def run(self, run_id: int) -> RunRow:
        row = self._db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise MtoError(f"no run {run_id} in {self.path}", "pick one from the runs view")
        return self._run_row(row)

    @staticmethod
    def _run_row(r: sqlite3.Row) -> RunRow:
        return RunRow(
            r["id"],
            r["experiment_id"],
            r["folder"],
            r["name"],
            r["template"],
            r["method"],
            r["shots"],
            r["seed"],
            r["status"],
            r["reason"],
            r["step"],
            r["total_steps"],
            json.loads(r["config"] or "{}"),
            json.loads(r["metrics"] or "{}"),
            r["created"],
            r["updated"],
        )

    def set_run_status(
        self, run_id: int, status: str, reason: str | None = None, metrics: dict[str, Any] | None = None
    ) -> None:
        if metrics is None:
            self._write(
                "UPDATE runs SET status=?, reason=?, updated=? WHERE id=?", (status, reason, time.time(), run_id)
            )
        else:
            self._write(
                "UPDATE runs SET status=?, reason=?, metrics=?, updated=? WHERE id=?",
                (status, reason, json.dumps(metrics), time.time(), run_id),
            )

    def mark_interrupted(self, keep: Iterable[str | Path] = ()) -> int:
        """Runs left 'running' by a process that is gone become 'interrupted' (resumable); so do their experiments.
        Returns how many runs. Left alone: runs and experiments whose folder a live process (this one or another)
        has locked, runs inside such an experiment's folder, and the folders in ``keep`` (a worker here owns them and
        may not have locked them yet)."""
        kept = {str(k) for k in keep}

        def live(folder: str | None) -> bool:
            return folder is not None and (folder in kept or folder_in_use(folder))

        running = self._db.execute("SELECT id, folder FROM experiments WHERE status='running'").fetchall()
        live_experiments = [Path(r["folder"]) for r in running if live(r["folder"])]
        dead_experiments = [r["id"] for r in running if not live(r["folder"])]
        runs = self._db.execute("SELECT id, folder FROM runs WHERE status='running'").fetchall()
        dead_runs = [
            r["id"]
            for r in runs
            if not live(r["folder"]) and not any(e in Path(r["folder"]).parents for e in live_experiments)
        ]
        now, marked = time.time(), 0
        reason = "the process ended during training; resume it from its last checkpoint"
        with self._transaction() as db:
            for run_id in dead_runs:
                marked += db.execute(
                    "UPDATE runs SET status='interrupted', reason=?, updated=? WHERE id=? AND status='running'",
                    (reason, now, run_id),
                ).rowcount
            for experiment_id in dead_experiments:
                db.execute(
                    "UPDATE experiments SET status='interrupted', updated=? WHERE id=? AND status='running'",
                    (now, experiment_id),
                )
        return marked

    # --- events -----------------------------------------------------------------------------------------------
    def record(self, run_id: int, event: Event) -> None:
        """Store what an event says about run ``run_id``."""
        now = time.time()
        if isinstance(event, RunStarted):
            if event.resumed_from:
                self._write("DELETE FROM metrics WHERE run_id=? AND step>?", (run_id, event.resumed_from))
            self._write(
                "UPDATE runs SET status='running', reason=NULL, total_steps=?, step=?, updated=? WHERE id=?",
                (event.total_steps, event.resumed_from, now, run_id),
            )
        elif isinstance(event, StepLogged):
            rows = [
                (run_id, event.step, event.examples_seen, "train", "loss", event.loss, now),
                (run_id, event.step, event.examples_seen, "train", "lr", event.lr, now),
                (run_id, event.step, event.examples_seen, "train", "tokens_per_s", event.tokens_per_s, now),
            ]
            rows += [
                (run_id, event.step, event.examples_seen, "train", f"loss_{k}", v, now) for k, v in event.losses.items()
            ]
            self._write_many("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._write("UPDATE runs SET step=?, updated=? WHERE id=?", (event.step, now, run_id))
        elif isinstance(event, EvalDone):
            if event.final and event.split == "validation":
                return  # the kept checkpoint's score, already a point of the validation curve: stored once
            rows = [
                (run_id, event.step, event.examples_seen, event.split, k, float(v), now)
                for k, v in event.metrics.items()
            ]
            rows += [
                (run_id, event.step, event.examples_seen, event.split, f"{k}@{rel}", float(v), now)
                for rel, values in event.per_relation.items()
                for k, v in values.items()
                if k in ("rougeL", "exact_match")
            ]
            self._write_many("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        elif isinstance(event, CheckpointSaved):
            self._write("UPDATE runs SET updated=? WHERE id=?", (now, run_id))
        elif isinstance(event, RunFinished):
            metrics: dict[str, Any] = dict(event.metrics)
            if event.split:
                metrics.update(scored_on=event.split, score_label=event.score_label)
            self.set_run_status(run_id, event.status, None, metrics)
        elif isinstance(event, RunFailed):
            self.set_run_status(run_id, "failed", event.reason)

    def series(self, run_id: int, name: str, split: str = "train") -> list[tuple[int, int, float]]:
        """(step, examples_seen, value) of one metric of one run, in step order."""
        rows = self._db.execute(
            "SELECT step, examples_seen, value FROM metrics WHERE run_id=? AND split=? AND name=? ORDER BY step, time",
            (run_id, split, name),
        ).fetchall()
        return [(r["step"], r["examples_seen"], r["value"]) for r in rows]

    def metric_names(self, run_id: int) -> list[tuple[str, str]]:
        rows = self._db.execute(
            "SELECT DISTINCT split, name FROM metrics WHERE run_id=? ORDER BY split, name", (run_id,)
        ).fetchall()
        return [(r["split"], r["name"]) for r in rows]
