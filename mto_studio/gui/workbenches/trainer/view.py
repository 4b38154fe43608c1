"""The Trainer workbench: configure an experiment (templates × k ladder × seeds × methods, training settings, the
optional adaptation stage), run it in the background into the project's experiments folder and run store, and
watch it: progress with ETA, live few-shot vs full-data curves (mean ± sd over seeds), the runs, the template × k
result table as runs finish, and sample predictions. Pause, resume, stop; resume a stopped or interrupted
experiment from its folder.

The settings column (settings.py) builds the ExperimentConfig, the monitor (monitor.py) presents the runs' events,
a JobController runs the job; this module wires them and handles the experiment-level events."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QMainWindow, QVBoxLayout, QWidget

from mto_studio.core.errors import MtoError
from mto_studio.core.jobs.events import (
    CheckpointSaved,
    EvalDone,
    ExperimentFinished,
    ExperimentStarted,
    Paused,
    Resumed,
    RunFailed,
    RunFinished,
    RunQueued,
    RunStarted,
    StepLogged,
    TableUpdated,
    WorkerLost,
    WorkerStarted,
)
from mto_studio.core.store.run_folder import ExperimentFolder, template_label
from mto_studio.core.training.experiment_config import ExperimentConfig
from mto_studio.gui.context import StudioContext
from mto_studio.gui.dialogs import show_error
from mto_studio.gui.format import esc as _esc
from mto_studio.gui.format import format_duration
from mto_studio.gui.jobs import JobController, JobState, experiment_job
from mto_studio.gui.theme import ERROR_RED
from mto_studio.gui.widgets.fields import settings_beside
from mto_studio.gui.widgets.run_controls import RunControls
from mto_studio.gui.workbenches.trainer.monitor import TrainerMonitor
from mto_studio.gui.workbenches.trainer.run_on import lost_error
from mto_studio.gui.workbenches.trainer.session import latest_resumable, restore_layout, save_layout
from mto_studio.gui.workbenches.trainer.settings import DEFAULT_EXPERIMENT, TrainerSettings
from mto_studio.gui.workers import Worker

EXPERIMENTS_DIR = "experiments"
STATUS_TICK_MS = 200  # progress bar, ETA and the runs table refresh at 5 Hz (the curves at ≤ 20 Hz)


def experiments_folder(project) -> Path:
    return project.folder / EXPERIMENTS_DIR


class TrainerWorkbench(QWidget):
    """Settings on the left; progress, live curves, runs, results and samples on the right. One experiment runs at
    a time, in the background."""

    title = "Trainer"

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.job = JobController(context, "experiment", tick_ms=STATUS_TICK_MS, parent=self)
        self.config: ExperimentConfig | None = None  # the running (or last) experiment's
        self.experiment_id: int | None = None
        self.last_status = ""
        self.resumable: Path | None = None
        self.final_status_text = ""
        self._build()
        self.job.state_changed.connect(lambda _state: self._show_state())
        self.job.emitted.connect(self._on_event)
        self.job.failed.connect(self._on_failed)
        self.job.ended.connect(self._on_ended)
        self.job.tick.connect(self._on_tick)
        self.settings.experiment_added.connect(self._on_experiment_added)
        context.library_changed.connect(self._refresh_source_label)
        context.project_changed.connect(self._on_project_changed)
        context.project_opened.connect(self._on_project_opened)
        context.data_changed.connect(self._refresh_source_label)
        context.tokenizer_changed.connect(self._refresh_source_label)
        context.splits_changed.connect(self._refresh_source_label)
        self.settings.apply_config(DEFAULT_EXPERIMENT)
        self.settings.refresh_experiments()
        self.monitor.start_folder = experiments_folder(context.project)
        self._refresh_source_label()
        self._find_resumable()
        self._show_state()

    def _build(self) -> None:
        self.settings = TrainerSettings(self.context)
        self.controls = RunControls("trainer")
        self.start_button, self.stop_button = self.controls.start_button, self.controls.stop_button
        self.pause_button, self.resume_button = self.controls.pause_buttons()
        self.progress, self.status_label = self.controls.progress, self.controls.status_label
        self.start_button.setToolTip("run the experiment in the background into the project's experiments folder")
        self.start_button.clicked.connect(self.start)
        self.pause_button.setToolTip("pause after the current step; the run stays in memory")
        self.pause_button.clicked.connect(self.pause)
        self.resume_button.clicked.connect(lambda: self.resume())
        self.stop_button.setToolTip("stop after the current step: the run saves a checkpoint and can be resumed")
        self.stop_button.clicked.connect(self.stop)
        self.monitor = TrainerMonitor()
        # the estimate (and the domain check) sits just above Start, pinned with it: in view however far one scrolls
        controls_layout = self.controls.layout()
        assert isinstance(controls_layout, QVBoxLayout)
        controls_layout.insertWidget(0, self.settings.estimate_label)
        self.splitter = settings_beside(self, "trainer", self.settings, self.controls, self.monitor)

    # --- the job ---------------------------------------------------------------------------------------------
    @property
    def worker(self) -> Worker | None:
        return self.job.worker

    @property
    def state(self) -> JobState:
        return self.job.state

    @property
    def is_running(self) -> bool:
        return self.job.busy

    @property
    def folder(self) -> Path | None:
        return self.monitor.folder

    def start(self) -> Worker | None:
        """Start the experiment the form describes; None (and a dialog) when it cannot run."""
        if self.is_running:
            return None
        try:
            cfg = self.settings.current_config()
        except MtoError as exc:
            show_error(self, "Cannot start the experiment", exc)
            return None
        folder = ExperimentFolder.new(experiments_folder(self.context.project), cfg.name).path
        return self._launch(cfg, folder, resume=False)

    def resume(self, folder: str | Path | None = None) -> Worker | None:
        """Resume the paused experiment, or continue a stopped or interrupted one from its folder (by default the
        latest such experiment of the project)."""
        if self.job.busy:
            self.job.resume()
            return None
        target = Path(folder) if folder is not None else self.resumable
        if target is None or not ExperimentFolder(target).config_file.is_file():
            show_error(
                self,
                "Nothing to resume",
                MtoError("no stopped or interrupted experiment was found", "start a new experiment"),
            )
            return None
        return self._launch(None, target, resume=True)

    def pause(self) -> None:
        if self.job.pause():
            self.status_label.setText("pausing after the current step…")

    def stop(self) -> None:
        if self.job.stop():
            self.status_label.setText("stopping after the current step: the run saves a checkpoint…")

    def _launch(self, cfg: ExperimentConfig | None, folder: Path, *, resume: bool) -> Worker:
        store_path = self.context.project.run_store_path
        self.config = cfg
        self.experiment_id = None
        self.last_status = ""
        self.final_status_text = ""
        self.lost: tuple[WorkerLost, str | None] | None = None  # a worker that died, and the run it trained
        self.monitor.reset("Preparing the experiment: checking the grid, loading the model and data…")
        self.monitor.folder = folder
        if cfg is not None:
            self.monitor.set_grid(cfg, self.context.library)
        self.settings.busy = True
        scheduling = self.settings.run_on.scheduling()  # nothing when one run at a time on this computer
        worker = self.job.start(
            lambda: experiment_job(cfg, folder, store_path, resume=resume, **scheduling), claims=[folder]
        )
        self.progress.setRange(0, 0)
        self.status_label.setText(("resuming" if resume else "starting") + f" {_esc(folder.name)}…")
        return worker

    # --- events (GUI thread) ---------------------------------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(self, event)

    def _on_experiment_started(self, event: ExperimentStarted) -> None:
        cfg = ExperimentConfig.from_dict(event.config)
        self.config = cfg
        # the form and the header show the experiment that runs (a resumed one may differ from what they showed)
        names = [template_label(t) for t in cfg.templates]
        self.settings.apply_config(dataclasses.replace(cfg, templates=names, baseline=template_label(cfg.baseline)))
        self.settings.show_running_source(cfg, running=True)
        self.experiment_id = event.experiment_id
        self.monitor.folder = Path(event.folder)
        self.monitor.set_grid(cfg, self.context.library)
        self.job.claim(self.monitor.run_folders())
        self.monitor.curves.show_note("Waiting for the first steps…")
        self.progress.setRange(0, max(self.monitor.steps()[1], 1))
        self.monitor.progress_dirty = True

    def _on_run_started(self, event: RunStarted) -> None:
        run = self.monitor.on_run_started(event)
        if run is not None and event.resumed_from:
            self.status_label.setText(f"run {run.index + 1}: resumed from its checkpoint at step {event.resumed_from}")

    def _on_step(self, event: StepLogged) -> None:
        self.job.clock.add_steps(self.monitor.on_step(event))

    def _on_run_finished(self, event: RunFinished) -> None:
        self.monitor.on_run_finished(event)
        self.job.owners.touched()

    def _on_run_failed(self, event: RunFailed) -> None:
        label = self.monitor.on_run_failed(event)
        window = self.window()
        if isinstance(window, QMainWindow):
            window.statusBar().showMessage(f"run failed: {label}: {event.reason}", 15000)
        self.job.owners.touched()

    def _on_paused(self, event: Paused) -> None:
        self.monitor.runs_model.update(event.run_id, status="paused", step=event.step)
        self.status_label.setText(f"paused at step {event.step}: Resume continues, Stop saves a checkpoint")

    def _on_resumed(self, event: Resumed) -> None:
        self.monitor.runs_model.update(event.run_id, status="running")

    def _on_checkpoint(self, event: CheckpointSaved) -> None:
        if event.reason == "stop":
            self.status_label.setText(f"checkpoint saved at step {event.step}; finishing…")

    def _on_table(self, event: TableUpdated) -> None:
        self.monitor.results.set_tables(event.tables, event.finished_runs, event.total_runs)

    def _on_experiment_finished(self, event: ExperimentFinished) -> None:
        self.last_status = event.status
        failed = f", {event.failed_runs} failed" if event.failed_runs else ""
        if event.status in ("stopped", "interrupted"):  # interrupted: a run's worker was lost (see _on_ended)
            self.resumable = Path(event.folder)
            text = f"{event.status}{failed}: <b>Resume</b> continues from the last checkpoint"
        else:
            link = QUrl.fromLocalFile(event.report).toString()
            text = f'finished{failed} · report: <a href="{link}">{_esc(Path(event.report).name)}</a>'
            if self.resumable == Path(event.folder):
                self.resumable = None
        self.final_status_text = text
        self.job.owners.touched()

    def _on_worker_lost(self, event: WorkerLost) -> None:
        """A worker died (killed, out of memory, a crash): its run reads interrupted; the job ends (_on_ended)."""
        self.lost = (event, self.monitor.on_worker_lost(event))
        self.job.owners.touched()

    def _lost_at_end(self, event: WorkerLost, label: str | None) -> None:
        """The job ended because a worker died: the window stays, a dialog says what happened and what Resume does."""
        self.last_status = "interrupted"
        self.monitor.on_worker_lost(event, ended=True)
        self.resumable = self.monitor.folder or self.resumable
        self.final_status_text = (
            f'<span style="color:{ERROR_RED}">interrupted: {_esc(event.reason.split("; ")[0])}</span> · '
            "<b>Resume</b> continues from the last checkpoint"
        )
        self.lost_dialog = show_error(self, "The training worker was lost", lost_error(event, label))

    _handlers = {
        ExperimentStarted: _on_experiment_started,
        RunQueued: lambda self, event: self.monitor.on_run_queued(event),
        RunStarted: _on_run_started,
        StepLogged: _on_step,
        EvalDone: lambda self, event: self.monitor.on_eval(event),
        RunFinished: _on_run_finished,
        RunFailed: _on_run_failed,
        Paused: _on_paused,
        Resumed: _on_resumed,
        CheckpointSaved: _on_checkpoint,
        TableUpdated: _on_table,
        ExperimentFinished: _on_experiment_finished,
        WorkerStarted: lambda self, event: self.monitor.on_worker_started(event),
        WorkerLost: _on_worker_lost,
    }

    def _on_failed(self, error: BaseException) -> None:
        self.last_status = "failed"
        show_error(self, "The experiment could not run", error)

    def _on_ended(self, worker: Worker) -> None:
        self.settings.busy = False
        self.monitor.progress_dirty = True
        self._on_tick()
        self.monitor.curves.redraw()
        if self.lost is not None:
            self._lost_at_end(*self.lost)
        if self.last_status == "failed" or (self.last_status == "" and worker.error is not None):
            self.status_label.setText(
                f'<span style="color:{ERROR_RED}">did not run: '
                f"{_esc(getattr(worker.error, 'message', worker.error))}</span>"
            )
            self.monitor.curves.show_note("The experiment did not start")
        elif self.last_status:
            self.status_label.setText(self.final_status_text or self.last_status)
        if self.last_status != "finished":
            self._find_resumable(show=False)
        self._refresh_source_label()  # "Trained …", no longer "Training …"

    def shutdown(self) -> None:
        """The window is closing: stop the experiment (the run checkpoints and is marked stopped, resumable) and
        wait for it, bounded so that closing never hangs."""
        self.job.shutdown()

    def unsaved_changes(self) -> list[str]:
        folder = self.monitor.folder
        name = self.config.name if self.config is not None else folder.name if folder else "?"
        return self.job.unsaved_line(
            f"experiment '{name}' is training: closing stops it after the current step (resume it later "
            "from the Trainer)"
        )

    # --- progress and state ------------------------------------------------------------------------------------
    def _on_tick(self) -> None:
        monitor = self.monitor
        monitor.runs_model.flush()
        if not monitor.progress_dirty:
            return
        monitor.progress_dirty = False
        done, total = monitor.steps()
        if not total:
            return
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        eta = self.job.clock.eta_s(done, total) if self.job.busy else None  # no estimate once the job ended
        rate = self.job.clock.rate()
        self.progress.setFormat(
            f"%p%  ·  {done:,} / {total:,} steps" + (f"  ·  ETA {format_duration(eta)}" if eta is not None else "")
        )
        if self.state == JobState.RUNNING:
            runs = monitor.runs_model.runs
            current = monitor.running_run()
            finished = sum(r.status in ("finished", "skipped") for r in runs)
            failed = sum(r.status == "failed" for r in runs)
            parts = [f"{finished} of {len(runs)} runs done" + (f", {failed} failed" if failed else "")]
            if current is not None:
                parts.append(f"now <b>{_esc(current.label)}</b> at step {current.step}/{current.total_steps}")
            if rate > 0:
                parts.append(f"{rate:.1f} steps/s")
            if monitor.job_where:
                parts.append(_esc(monitor.job_where))
            self.status_label.setText(" · ".join(parts))

    def _show_state(self) -> None:
        idle = self.state == JobState.IDLE
        tip = f"continue {self.resumable.name} from its last checkpoint" if idle and self.resumable else ""
        self.controls.set_state(self.state, can_resume=self.resumable is not None, resume_tip=tip)
        self.settings.set_editable(idle)

    def _find_resumable(self, *, show: bool = True) -> None:
        """The project's latest stopped or interrupted experiment whose folder still exists."""
        self.resumable = latest_resumable(self.context.project.run_store_path, self.job.owners.folders)
        if show and self.state == JobState.IDLE:
            self._show_state()

    def _refresh_source_label(self) -> None:
        """What the coming experiment trains on and where its scores will come from, or the shown experiment's."""
        if self.config is not None and (self.job.busy or self.monitor.runs_model.runs):
            self.settings.show_running_source(self.config, running=self.job.busy)
            return
        test = self.settings.show_project_source()
        if not self.job.busy and not self.monitor.runs_model.runs:
            # nothing shown yet: the labels say where the coming experiment's scores will come from
            from mto_studio.core.training.results import score_label

            try:
                best = self.settings.current_config().base_train_config().select_best
            except MtoError:
                best = True
            self.monitor.set_score_label(
                score_label("test" if test else "validation", checkpoint="best" if best else "last")
            )

    # --- the project ---------------------------------------------------------------------------------------------
    def _on_experiment_added(self, name: str) -> None:
        self.status_label.setText(
            f"experiment <b>{_esc(name)}</b> from the project is ready: check the settings and press Start"
        )

    def _on_project_opened(self) -> None:
        """Another project: nothing of the previous one's experiment stays on screen (unless it is still running)."""
        self.monitor.start_folder = experiments_folder(self.context.project)
        if self.job.busy:
            return
        self.config = None
        self.monitor.folder = None
        self.final_status_text = ""
        self.last_status = ""
        self.status_label.setText("")
        self.monitor.reset("Start an experiment: the curves fill in as the runs train")
        self.monitor.clear_results()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.settings.reset()

    def _on_project_changed(self) -> None:
        self.settings.refresh_experiments(forget=True)
        self._refresh_source_label()
        if not self.job.busy:
            self._find_resumable()

    # --- workbench protocol ------------------------------------------------------------------------------------
    def activated(self) -> None:
        self.settings.refresh_experiments()
        if not self.job.busy:
            self._find_resumable()

    def save_curves_png(self, path: str | Path | None = None) -> Path | None:
        return self.monitor.save_curves_png(path, start=experiments_folder(self.context.project))

    def save_state(self, settings) -> None:
        save_layout(self, settings)

    def restore_state(self, settings) -> None:
        restore_layout(self, settings)
