"""The Analyzer workbench: per relation, decide Filling or Mapping (rules, likelihood probe, classifier) and rank
the candidate templates zero-shot on the project's model and data, in the background; apply the decisions to the
project and prepare an experiment from them. The last report is kept in the project folder (analysis.json)."""

from __future__ import annotations

import traceback
from typing import Any

from PySide6.QtWidgets import QWidget

from mto_studio.core.analysis.analyze import AnalysisCancelled, AnalysisConfig, AnalysisDone, AnalysisReport, analyze
from mto_studio.core.analysis.saved import ANALYSIS_FILE, load_analysis, save_analysis
from mto_studio.core.errors import MtoError
from mto_studio.core.jobs.events import Progress
from mto_studio.core.project import Project
from mto_studio.gui.context import StudioContext
from mto_studio.gui.dialogs import show_error
from mto_studio.gui.format import esc as _esc
from mto_studio.gui.jobs import JobController, JobState
from mto_studio.gui.theme import ERROR_RED
from mto_studio.gui.widgets.fields import settings_beside
from mto_studio.gui.widgets.run_controls import RunControls
from mto_studio.gui.workbenches.analyzer.evidence import AnalysisResults
from mto_studio.gui.workbenches.analyzer.settings import AnalyzerSettings
from mto_studio.gui.workers import Worker

#: How long closing the window waits for the analysis to stop (it stops after its current step).
SHUTDOWN_WAIT_MS = 15_000


class AnalyzerWorkbench(QWidget):
    """Settings on the left; the per-relation table, the evidence in words and the template ranking chart on the
    right. One analysis runs at a time, in the background."""

    title = "Analyzer"

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.job = JobController(context, "analysis", pausable=False, parent=self)
        self.last_error: BaseException | None = None
        self._cancelled = False
        self._project = context.project
        self._folder = context.project.folder
        self._running_project: Project | None = None
        self._config: AnalysisConfig | None = None  # the running analysis's
        self._build()
        self.job.state_changed.connect(self._show_state)
        self.job.emitted.connect(self._on_event)
        self.job.failed.connect(self._on_failed)
        self.job.ended.connect(self._on_ended)
        context.project_changed.connect(self._on_project_changed)
        self.settings.refresh()
        self._load_saved()
        self._show_state(self.job.state)

    # --- layout ----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.settings = AnalyzerSettings(self.context)
        self.controls = RunControls("analysis", start_text="Analyse", stop_text="Cancel", pausable=False)
        self.run_button, self.cancel_button = self.controls.start_button, self.controls.stop_button
        self.progress, self.status_label = self.controls.progress, self.controls.status_label
        self.run_button.setToolTip(
            "score the chosen relations and templates on the project's model and data, in the background"
        )
        self.run_button.clicked.connect(self.start)
        self.cancel_button.setToolTip("stop after the current step; the previous results stay")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress.setFormat("%v / %m")
        self.results = AnalysisResults(self.context)
        self.results.results_model.overrides_changed.connect(self._save_overrides)
        self.splitter = settings_beside(self, "analyzer", self.settings, self.controls, self.results, 310)

    # --- the job ---------------------------------------------------------------------------------------------------
    @property
    def state(self) -> JobState:
        return self.job.state

    @property
    def worker(self) -> Worker | None:
        return self.job.worker

    @property
    def is_running(self) -> bool:
        return self.job.state.busy

    @property
    def report(self) -> AnalysisReport | None:
        """The report shown (None: no analysis yet)."""
        return self.results.report

    def current_config(self) -> AnalysisConfig:
        """The analysis the settings describe, with the user's overrides (raises ConfigError)."""
        return self.settings.config(self.results.results_model.overrides)

    def start(self) -> Worker | None:
        """Start the analysis in the background; None (and a dialog) when the settings cannot run."""
        if self.is_running:
            return None
        try:
            cfg = self.current_config()
            if "probe" in cfg.strategies:
                error = self.settings.probe_problem()
                if error is not None:
                    raise error
        except MtoError as exc:
            self._show_failure(exc)
            return None
        library = self.context.project.library()  # the worker's own copy: the analysis adds to it
        self._config = cfg
        self._cancelled = False
        self.last_error = None
        self._running_project = self.context.project
        worker = self.job.start(lambda: analyze(cfg, library=library))
        self.progress.setRange(0, 0)
        self.status_label.setText(
            f"starting: {len(cfg.strategies)} strateg{'y' if len(cfg.strategies) == 1 else 'ies'}"
            f", {len(cfg.templates)} template(s)…"
        )
        return worker

    def cancel(self) -> None:
        """Stop the analysis after its current step; the results shown stay."""
        if self.job.stop():
            self.status_label.setText("cancelling after the current step…")

    def shutdown(self) -> None:
        self.job.shutdown(SHUTDOWN_WAIT_MS)

    def _show_state(self, state: JobState) -> None:
        self.controls.set_state(state)
        self.results.set_busy(state.busy)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, Progress):
            self.progress.setRange(0, max(event.total, 1))
            self.progress.setValue(event.done)
            self.status_label.setText(self._progress_text(event))
        elif isinstance(event, AnalysisCancelled):
            self._cancelled = True
            self.status_label.setText(f"cancelled after {event.done} of {event.total} steps; the previous results stay")
        elif isinstance(event, AnalysisDone):
            if self.worker is not None and self.worker.stop_requested:
                self._cancelled = True  # it finished before it saw the Stop: the user asked for nothing
                return
            self._take_result(event.report)

    @staticmethod
    def _progress_text(event: Progress) -> str:
        """The phase in words (scoring pass, strategy and relation, classifier training step) and the share done."""
        share = f" · {event.done / event.total:.0%}" if event.total > 1 else ""
        return event.message + share

    def _on_failed(self, error: BaseException) -> None:
        self.last_error = error
        if not isinstance(error, MtoError):
            traceback.print_exception(error)
        self.status_label.setText("the analysis stopped with an error")
        self._show_failure(error)

    def _show_failure(self, error: BaseException) -> None:
        show_error(self, "Cannot run the analysis", error)

    def _on_ended(self, _worker: Worker) -> None:
        self._running_project = None
        if self._cancelled:
            self.status_label.setText("cancelled; the previous results stay")

    # --- the report --------------------------------------------------------------------------------------------
    def _take_result(self, report: dict[str, Any]) -> None:
        project = self._running_project or self.context.project
        if project is not self.context.project:
            return  # another project was opened meanwhile: this report is not its own
        self.results.show_report(report, dict(self.results.results_model.overrides))
        try:
            self.context.lease.check_writable()  # a project open read-only keeps its analysis.json
            path = save_analysis(project.folder, report, self.results.results_model.overrides)
            saved = f"saved to {path.name}"
        except MtoError as exc:
            saved = f'<span style="color:{ERROR_RED}">not saved: {_esc(exc.message)}</span>'
        shown = self.report
        assert shown is not None, "show_report() of a report shows it"
        self.status_label.setText(f"done: {len(shown.relations)} relation(s) in {shown.elapsed_s:.1f} s · {saved}")

    def _save_overrides(self) -> None:
        if self.results.report_dict is not None:
            try:
                self.context.lease.check_writable()
                save_analysis(
                    self.context.project.folder, self.results.report_dict, self.results.results_model.overrides
                )
            except MtoError as exc:
                self.status_label.setText(f"could not save the override: {exc.message}")

    def _load_saved(self) -> None:
        try:
            saved = load_analysis(self.context.project.folder)
        except MtoError as exc:
            self.results.show_report(None)
            self.status_label.setText(f"{exc.message} ({exc.hint})")
            return
        if saved is None:
            self.results.show_report(None)
            self.status_label.setText("")
            return
        raw, report, overrides = saved
        self.settings.apply_config(report.config)
        self.results.show_report(raw, overrides)
        self.status_label.setText(f"the last analysis, from {ANALYSIS_FILE}")

    def _on_project_changed(self) -> None:
        project = self.context.project
        if project is self._project:
            if project.folder != self._folder and self.results.report_dict is not None:
                try:  # saved as a copy elsewhere: the report goes along
                    save_analysis(project.folder, self.results.report_dict, self.results.results_model.overrides)
                except MtoError as exc:
                    self.status_label.setText(f"could not copy {ANALYSIS_FILE}: {exc.message}")
        else:
            if self.worker is not None and self.worker.is_running:
                self.cancel()  # its result belongs to the project that was closed
            self.results.notice_label.setVisible(False)
            self._load_saved()
        self._project, self._folder = project, project.folder
        self.settings.refresh_source_label()
        self.results.update_summary()

    # --- workbench protocol ------------------------------------------------------------------------------------
    def save_state(self, settings) -> None:
        settings.setValue("analyzer/splitter", self.splitter.saveState())
        settings.setValue("analyzer/vsplitter", self.results.saveState())
        settings.setValue("analyzer/evidence-splitter", self.results.evidence_splitter.saveState())

    def restore_state(self, settings) -> None:
        for key, splitter in (
            ("analyzer/splitter", self.splitter),
            ("analyzer/vsplitter", self.results),
            ("analyzer/evidence-splitter", self.results.evidence_splitter),
        ):
            state = settings.value(key)
            if state is not None:
                splitter.restoreState(state)
