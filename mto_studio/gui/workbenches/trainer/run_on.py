"""Where the Trainer's runs execute: the "Run on" group of the settings column (this computer, or a Ray cluster at
an address, with a connection check; how many runs at once), remembered in the app settings, and how the Trainer
words where a run runs (WorkerStarted) and a worker that was lost (WorkerLost)."""

from __future__ import annotations

import socket
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from mto_studio.core.errors import MtoError
from mto_studio.core.jobs import backends
from mto_studio.core.jobs.events import WorkerLost, WorkerStarted
from mto_studio.core.training.precision import available_cores
from mto_studio.gui.dialogs import show_error
from mto_studio.gui.format import esc
from mto_studio.gui.settings import app_settings, remember_run_on, run_on_choice
from mto_studio.gui.theme import ERROR_RED
from mto_studio.gui.workers import Worker, WorkerSet

COMPUTER, RAY = "computer", "ray"
ADDRESS_TIP = (
    "empty: start a local Ray cluster on this computer · auto: join the cluster running here (ray start) · "
    "ray://HOST:PORT: a remote cluster's Ray Client address"
)


class RunOnBox(QGroupBox):
    """``changed()`` when a choice changes (they are saved at once); ``scheduling()`` is what the experiment gets."""

    changed = Signal()

    def __init__(self, workers: WorkerSet, parent: QWidget | None = None) -> None:
        super().__init__("Run on", parent)
        self.workers = workers
        self.check_worker: Worker | None = None
        form = QFormLayout(self)
        self.where_combo = QComboBox()
        self.where_combo.setObjectName("trainer-run-on")
        self.where_combo.addItem("This computer", COMPUTER)
        self.where_combo.addItem("Ray cluster", RAY)
        self.where_combo.setToolTip(
            "This computer: the experiment runs in a worker process of its own (a crash or out-of-memory there "
            "leaves the window standing). Ray cluster: each run of the grid becomes a Ray task"
        )
        self.address_edit = QLineEdit()
        self.address_edit.setObjectName("trainer-cluster")
        self.address_edit.setPlaceholderText("empty: local · auto · ray://HOST:PORT")
        self.address_edit.setToolTip(ADDRESS_TIP)
        self.check_button = QPushButton("Check connection")
        self.check_button.setObjectName("trainer-cluster-check")
        self.check_button.setToolTip("connect to the cluster and list its nodes, CPUs and GPUs")
        self.check_button.clicked.connect(self.check_connection)
        check_row = QWidget()
        row = QHBoxLayout(check_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.check_button)
        row.addStretch(1)
        self.check_label = QLabel()
        self.check_label.setObjectName("trainer-cluster-status")
        self.check_label.setWordWrap(True)
        self.check_label.setProperty("role", "muted")
        self.check_label.setTextFormat(Qt.TextFormat.RichText)
        self.parallel_spin = QSpinBox()
        self.parallel_spin.setObjectName("trainer-parallel")
        self.parallel_spin.setRange(1, max(1, available_cores()))
        self.parallel_spin.setToolTip(
            "runs of the grid that train at the same time: more than 1 runs them in parallel worker processes "
            "(the torch threads are split between them); on a Ray cluster, the most runs in flight at once"
        )
        form.addRow("Run on", self.where_combo)
        form.addRow("Address", self.address_edit)
        form.addRow("", check_row)
        form.addRow("", self.check_label)
        form.addRow("Runs at once", self.parallel_spin)
        self.form = form
        run_on, cluster, parallel = run_on_choice(app_settings())
        if run_on == RAY and not backends.ray_available():
            run_on = COMPUTER
        self.where_combo.setCurrentIndex(max(0, self.where_combo.findData(run_on)))
        self.address_edit.setText(cluster)
        self.parallel_spin.setValue(min(parallel, self.parallel_spin.maximum()))
        self._show_rows()
        self.where_combo.currentIndexChanged.connect(lambda _i: self._on_where_chosen())
        self.address_edit.editingFinished.connect(self._save)
        self.parallel_spin.valueChanged.connect(lambda _v: self._save())

    # --- choices -----------------------------------------------------------------------------------------------
    @property
    def run_on(self) -> str:
        return str(self.where_combo.currentData())

    @property
    def address(self) -> str:
        return self.address_edit.text().strip()

    def scheduling(self) -> dict[str, Any]:
        """How the experiment executes its runs, as ``run_experiment`` takes it; only what differs from its
        defaults (one run at a time, in the experiment's own worker), so that an empty dict changes nothing."""
        parallel = self.parallel_spin.value()
        out: dict[str, Any] = {"parallel": parallel} if parallel != 1 else {}
        if self.run_on == RAY:
            out["runs_on"] = "ray"
            if self.address:
                out["cluster"] = self.address
        elif parallel > 1:
            out["runs_on"] = "process"
        return out

    def _on_where_chosen(self) -> None:
        if self.run_on == RAY:
            try:
                backends.require_ray()
            except MtoError as exc:
                show_error(self, "Ray is not installed", exc)
                self.where_combo.setCurrentIndex(self.where_combo.findData(COMPUTER))  # back to this computer
                return
        self._show_rows()
        self._save()

    def _show_rows(self) -> None:
        ray = self.run_on == RAY
        for row in (1, 2, 3):  # address, check, its answer
            self.form.setRowVisible(row, ray)
        if not ray:
            self.check_label.setText("")

    def _save(self) -> None:
        remember_run_on(app_settings(), self.run_on, self.address, self.parallel_spin.value())
        self.changed.emit()

    # --- the connection check ----------------------------------------------------------------------------------
    def check_connection(self) -> Worker | None:
        """Ask the cluster for its nodes and resources in a worker thread (connecting can take seconds)."""
        if self.check_worker is not None:
            return None
        from mto_studio.core.jobs.ray_backend import cluster_summary

        address = self.address or None
        self.check_label.setText(f"connecting to {esc(address or 'a new local cluster')}…")
        self.check_button.setEnabled(False)
        worker = Worker.call(cluster_summary, address, name="ray-check")
        worker.returned.connect(lambda summary: self.check_label.setText(summary_text(summary, address)))
        worker.failed.connect(self._check_failed)
        worker.finished.connect(self._check_ended)
        self.check_worker = worker
        self.workers.start(worker)
        return worker

    def _check_failed(self, error: BaseException) -> None:
        message = error.message if isinstance(error, MtoError) else str(error) or type(error).__name__
        hint = f" ({esc(error.hint)})" if isinstance(error, MtoError) and error.hint else ""
        self.check_label.setText(f'<span style="color:{ERROR_RED}">not reachable: {esc(message)}</span>{hint}')

    def _check_ended(self) -> None:
        self.check_worker = None
        self.check_button.setEnabled(True)


def summary_text(summary: dict[str, Any], address: str | None) -> str:
    """``cluster_summary``'s answer in one line: "connected to ADDRESS: 2 nodes (a, b) · 8 CPUs · 1 GPUs · Ray 2.x"."""
    got = {str(k).lower(): v for k, v in summary.items()}
    parts = []
    if "nodes" in got:
        hosts = got.get("hosts") or []
        parts.append(f"{got['nodes']} node(s)" + (f" ({', '.join(map(str, hosts))})" if hosts else ""))
    for key, name in (("cpus", "CPUs"), ("gpus", "GPUs")):
        if isinstance(got.get(key), int | float):
            parts.append(f"{got[key]:g} {name}")
    version = got.get("ray_version") or got.get("version")
    if version:
        parts.append(f"Ray {version}")
    where = got.get("address") or address or "a local cluster"
    return f"connected to {esc(str(where))}: " + " · ".join(esc(p) for p in parts)


def where_text(event: WorkerStarted) -> str:
    """Where a job runs, as the runs table and the status line say it."""
    if event.backend == "ray":
        return f"ray: {event.host}" + (f" (attempt {event.attempt})" if event.attempt > 1 else "")
    host = "this computer" if event.host in ("", socket.gethostname()) else event.host
    if event.backend == "thread":
        return f"{host} (in the app)"
    return f"{host} (process {event.pid})" + (f", attempt {event.attempt}" if event.attempt > 1 else "")


def lost_error(event: WorkerLost, run_label: str | None) -> MtoError:
    """What the dialog says when the worker died: what happened, which run is interrupted, and what Resume does."""
    what = f"run {run_label} is interrupted" if run_label else "the experiment is interrupted"
    at = f" at step {event.step}" if event.step else ""
    reason = event.reason.split("; ")[0]
    return MtoError(
        f"{reason[:1].upper()}{reason[1:]}. The window is fine: {what}{at}.",
        "Resume continues it from its last checkpoint (the Runs view lists it as interrupted)",
    )
