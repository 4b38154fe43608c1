"""The Trainer's monitor: the live learning curves, the runs of the experiment, the results tab and sample
predictions. It presents the run-level events of a running (or resumed) experiment; the workbench owns the job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.jobs.events import (
    EvalDone,
    RunFailed,
    RunFinished,
    RunQueued,
    RunStarted,
    StepLogged,
    WorkerLost,
    WorkerStarted,
)
from mto_studio.core.store.run_folder import ExperimentFolder, RunFolder, template_label
from mto_studio.core.templates import Objective, TemplateLibrary
from mto_studio.core.training.config import TrainConfig
from mto_studio.core.training.experiment_config import ExperimentConfig
from mto_studio.core.training.experiment_outputs import run_folder_name
from mto_studio.gui.format import esc as _esc
from mto_studio.gui.models.qa import QA_METRICS, qa_metric_name, qa_metrics_in
from mto_studio.gui.models.samples import SamplesModel
from mto_studio.gui.models.training import ExperimentRunsModel, RunInfo
from mto_studio.gui.plots.live_curves import CurveKey, LiveCurves
from mto_studio.gui.theme import ERROR_RED
from mto_studio.gui.widgets.banner import NoticeBanner
from mto_studio.gui.workbenches.trainer.results import ResultsPanel
from mto_studio.gui.workbenches.trainer.run_on import where_text

TRAIN = TrainConfig()


class TrainerMonitor(QWidget):
    """Curves, runs, results, samples. ``folder``: the experiment folder the shown runs live in."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder: Path | None = None
        self.start_folder: Path | None = None  # where Save PNG… starts when no experiment is shown
        self.failed_notices: list[str] = []
        self.job_where = ""  # where the experiment's own worker runs (the status line says it)
        self.progress_dirty = False  # steps or run states changed since the progress bar was drawn
        self._samples: dict[str, tuple[int, str, tuple]] = {}
        self._latest_sample_run: str | None = None
        self._build()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.setSpacing(4)
        self.notice = NoticeBanner()  # a run failed, the worker was lost
        self.notice.setObjectName("trainer-notice")
        self.notice_label = self.notice.text_label
        self.notice_label.setObjectName("trainer-notice-text")
        layout.addWidget(self.notice)

        header = QHBoxLayout()
        heading = QLabel("Learning curves")
        heading.setProperty("role", "heading")
        header.addWidget(heading)
        self.curves_caption = QLabel(
            "few-shot (dotted/dashed) and full data (solid) · one colour per template · band = ± sd over seeds"
        )
        self.curves_caption.setProperty("role", "muted")
        header.addWidget(self.curves_caption, 1)
        self.png_button = QToolButton()
        self.png_button.setObjectName("trainer-save-png")
        self.png_button.setText("Save PNG…")
        self.png_button.setToolTip("save the curves as drawn (with the legend) as a PNG image")
        self.png_button.clicked.connect(lambda: self.save_curves_png(start=self.start_folder))
        header.addWidget(self.png_button)
        header.addWidget(QLabel("x axis"))
        self.x_combo = QComboBox()
        self.x_combo.setObjectName("trainer-x-axis")
        self.x_combo.addItem("steps", "step")
        self.x_combo.addItem("examples seen", "examples")
        self.x_combo.currentIndexChanged.connect(lambda _i: self.curves.set_x_mode(self.x_combo.currentData()))
        header.addWidget(self.x_combo)
        layout.addLayout(header)

        self.vsplitter = QSplitter(Qt.Orientation.Vertical)
        self.vsplitter.setObjectName("trainer-vsplitter")
        self.curves: LiveCurves = LiveCurves()
        self.vsplitter.addWidget(self.curves)

        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.setObjectName("trainer-bottom-splitter")
        self.bottom_splitter = bottom
        runs_panel = QWidget()
        runs_layout = QVBoxLayout(runs_panel)
        runs_layout.setContentsMargins(0, 4, 4, 0)
        runs_heading = QLabel("Runs")
        runs_heading.setProperty("role", "section")
        runs_layout.addWidget(runs_heading)
        self.runs_model = ExperimentRunsModel(self)
        self.runs_table = QTableView()
        self.runs_table.setObjectName("trainer-runs")
        self.runs_table.setModel(self.runs_model)
        self.runs_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.runs_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.runs_table.verticalHeader().setVisible(False)
        self.runs_table.verticalHeader().setDefaultSectionSize(22)
        self.runs_table.horizontalHeader().setStretchLastSection(True)
        self.runs_table.setAlternatingRowColors(True)
        self.runs_table.setWordWrap(False)
        self.runs_table.selectionModel().currentRowChanged.connect(lambda _c, _p: self.show_samples())
        for column, width in enumerate((28, 86, 62, 46, 36, 84, 62, 62, 150)):  # … ROUGE-L, where
            self.runs_table.setColumnWidth(column, width)
        runs_layout.addWidget(self.runs_table)
        bottom.addWidget(runs_panel)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("trainer-tabs")
        self.results = ResultsPanel(lambda template: self.curves.colour(template))
        self.tabs.addTab(self.results, "Results: template × k")
        samples = QWidget()
        samples_layout = QVBoxLayout(samples)
        samples_layout.setContentsMargins(4, 6, 4, 4)
        self.samples_caption = QLabel("Predictions appear with the first evaluation.")
        self.samples_caption.setObjectName("trainer-samples-caption")
        self.samples_caption.setProperty("role", "muted")
        samples_layout.addWidget(self.samples_caption)
        self.samples_model = SamplesModel(self)
        self.samples_table = QTableView()
        self.samples_table.setObjectName("trainer-samples")
        self.samples_table.setModel(self.samples_model)
        self.samples_table.verticalHeader().setVisible(False)
        self.samples_table.setWordWrap(False)
        self.samples_table.horizontalHeader().setStretchLastSection(False)
        for column, width in enumerate((90, 250, 170, 250, 64)):
            self.samples_table.setColumnWidth(column, width)
        samples_layout.addWidget(self.samples_table)
        self.tabs.addTab(samples, "Sample predictions")
        bottom.addWidget(self.tabs)
        bottom.setStretchFactor(0, 5)
        bottom.setStretchFactor(1, 6)
        bottom.setSizes([600, 610])
        self.vsplitter.addWidget(bottom)
        self.vsplitter.setStretchFactor(0, 3)
        self.vsplitter.setStretchFactor(1, 2)
        self.vsplitter.setSizes([520, 360])
        layout.addWidget(self.vsplitter, 1)

    # --- an experiment's grid ----------------------------------------------------------------------------------
    def reset(self, note: str) -> None:
        """Nothing shown: no runs, no curves, no samples; ``note`` over the empty curves."""
        self.failed_notices = []
        self.job_where = ""
        self._samples.clear()
        self._latest_sample_run = None
        for key in list(self.notice.notices):
            self.notice.clear_notice(key)
        self.notice.hide()
        self.runs_model.set_runs([])
        self.samples_model.set_samples([])
        self.curves.reset()
        self.curves.show_note(note)

    def clear_results(self) -> None:
        self.results.model.set_grid([], [], [], "")
        self.results.refresh_ladder(reset=True)

    def set_score_label(self, label: str) -> None:
        """The label of the scores in the runs table and the results (e.g. "Validation ROUGE-L (best …)")."""
        self.results.set_label(label)
        self.runs_model.set_score_header(label)
        self.runs_table.resizeColumnToContents(ExperimentRunsModel.COLUMNS.index("ROUGE-L"))

    def set_grid(self, cfg: ExperimentConfig, library: TemplateLibrary) -> None:
        """Runs list, result grid and curve styles for ``cfg`` (known when the experiment starts)."""
        from mto_studio.core.training.experiment_outputs import expected_scoring
        from mto_studio.core.training.results import score_label

        names = [template_label(t) for t in cfg.templates]
        objectives: dict[str, Objective] = {name: library.get(name).objective for name in names if name in library}
        self.curves.set_grid(names, objectives, list(cfg.shots), list(cfg.methods))
        split, checkpoint = expected_scoring(cfg)
        label = score_label(split, checkpoint=checkpoint)
        self.results.set_grid(list(cfg.methods), names, list(cfg.shots), template_label(cfg.baseline),
                              len(cfg.seeds), label)  # fmt: skip
        self.runs_model.set_score_header(label)
        self.runs_table.resizeColumnToContents(ExperimentRunsModel.COLUMNS.index("ROUGE-L"))
        runs = []
        steps = int(cfg.train.get("steps", TRAIN.steps))
        if cfg.adaptation.enabled:
            runs.append(RunInfo("adaptation", -1, "adaptation stage", "adaptation", "full", 0, cfg.adaptation.steps))
        for index, run_cfg in enumerate(cfg.runs()):
            shots = "full" if run_cfg.shots is None else str(run_cfg.shots)
            runs.append(
                RunInfo(run_folder_name(index, run_cfg), index, template_label(run_cfg.template),
                        run_cfg.method.value, shots, run_cfg.seed, steps)
            )  # fmt: skip
        for position, run in enumerate(runs):
            run.index = position
        self.runs_model.set_runs(runs)
        single_method = len(cfg.methods) == 1 and not cfg.adaptation.enabled
        self.runs_table.setColumnHidden(ExperimentRunsModel.COLUMNS.index("method"), single_method)
        self.runs_table.setColumnHidden(self.runs_model.COLUMNS.index("where"), True)  # until a run has its own

    def run_folders(self) -> list[Path]:
        """The folders this experiment's runs train in (the workbench claims them)."""
        if self.folder is None:
            return []
        experiment = ExperimentFolder(self.folder)
        runs = [experiment.run(r.run_id).path for r in self.runs_model.runs if r.method != "adaptation"]
        return [*runs, experiment.adaptation.path]

    def steps(self) -> tuple[int, int]:
        """(steps done, steps in all) over the experiment's runs."""
        runs = self.runs_model.runs
        return sum(r.done_steps for r in runs), sum(r.total_steps for r in runs)

    def running_run(self) -> RunInfo | None:
        return next((r for r in self.runs_model.runs if r.status == "running"), None)

    # --- run events ----------------------------------------------------------------------------------------
    def _run_key(self, run: RunInfo) -> CurveKey:
        return CurveKey(run.method, run.template, run.shots)

    def on_run_queued(self, event: RunQueued) -> None:
        run_dir = ExperimentFolder(self.folder).run(event.run_id).path if self.folder else None
        if event.skipped:
            result = RunFolder(run_dir).result() if run_dir else {}
            metrics = result.get("metrics", {})
            run = self.runs_model.update(
                event.run_id,
                status="skipped",
                step=int(result.get("step", 0)),
                rouge=metrics.get("rougeL"),
                exact_match=metrics.get("exact_match"),
                **{m: metrics.get(m) for m in QA_METRICS},
                scored_on=str(result.get("split") or "validation"),
                score_label=str(result.get("score_label") or ""),
                folder=str(run_dir or ""),
            )
            if run is not None and run_dir is not None:
                self._load_history(run, run_dir, after=None)
        else:
            self.runs_model.update(event.run_id, status="queued", folder=str(run_dir or ""))
        self.progress_dirty = True

    def _load_history(self, run: RunInfo, run_dir: Path, after: int | None) -> None:
        """Draw what an earlier session logged for ``run`` (up to step ``after`` when given)."""
        if run.method == "adaptation":
            return
        key = self._run_key(run)
        losses: list[tuple[int, int, float]] = []
        scores: list[tuple[int, int, float]] = []
        samples: tuple[int, str, tuple] | None = None
        for record in RunFolder(run_dir).events():
            step = int(record.get("step", 0) or 0)
            if after is not None and step > after:
                continue
            if record.get("event") == "StepLogged":
                losses.append((step, int(record.get("examples_seen", 0)), float(record["loss"])))
            elif (
                record.get("event") == "EvalDone"
                and record.get("split") == "validation"
                and not record.get("final")
                and not (scores and scores[-1][0] == step)
            ):
                metric = self._curve_metric(record["metrics"])
                scores.append((step, int(record.get("examples_seen", 0)), float(record["metrics"].get(metric, 0))))
                samples = (step, "validation", tuple(record.get("samples", ())))
        if after is not None:
            self.curves.truncate(key, run.seed, after)
        self.curves.add_points(key, run.seed, "loss", losses)
        self.curves.add_points(key, run.seed, "rougeL", scores)
        if samples is not None:
            self._samples[run.run_id] = samples

    def _curve_metric(self, metrics: dict[str, Any]) -> str:
        """The validation metric the curves plot: accuracy for QA runs (the plot says so), else ROUGE-L."""
        if "accuracy" in metrics:
            self.curves.set_score_metric("accuracy", qa_metric_name("accuracy"))
            return "accuracy"
        return "rougeL"

    def on_run_started(self, event: RunStarted) -> RunInfo | None:
        run = self.runs_model.update(
            event.run_id,
            status="running",
            step=event.resumed_from,
            total_steps=event.total_steps,
            folder=event.folder,
            reason="",
        )
        if run is not None and event.resumed_from:
            self._load_history(run, Path(event.folder), after=event.resumed_from)
        self.progress_dirty = True
        return run

    def on_step(self, event: StepLogged) -> int:
        """Returns the steps this event adds (the ETA's rate)."""
        run = self.runs_model.run(event.run_id)
        if run is None:
            return 0
        added = max(0, event.step - run.step)
        self.runs_model.update(event.run_id, now=False, step=event.step)
        if run.method != "adaptation":
            self.curves.add_point(self._run_key(run), run.seed, "loss", event.step, event.examples_seen, event.loss)
        self.progress_dirty = True
        return added

    def on_eval(self, event: EvalDone) -> None:
        run = self.runs_model.run(event.run_id)
        if run is None:
            return
        value = event.metrics.get(self._curve_metric(event.metrics))
        if event.split == "validation" and value is not None and run.method != "adaptation" and not event.final:
            # a final evaluation is the run's result (RunFinished carries it), not a point of the curve
            self.curves.add_point(self._run_key(run), run.seed, "rougeL", event.step, event.examples_seen, value)
        if value is not None and run.status == "running" and not event.final:
            fields: dict[str, Any] = {"rouge": event.metrics.get("rougeL")}
            fields.update({m: event.metrics[m] for m in qa_metrics_in(event.metrics)})
            self.runs_model.update(event.run_id, **fields)
        if event.samples:
            self._samples[event.run_id] = (event.step, event.split, event.samples)
            self._latest_sample_run = event.run_id
            self.show_samples()

    def on_run_finished(self, event: RunFinished) -> None:
        fields: dict[str, Any] = {"status": event.status, "step": event.step}
        if event.status == "finished":
            fields.update(
                rouge=event.metrics.get("rougeL"),
                exact_match=event.metrics.get("exact_match"),
                **{m: event.metrics.get(m) for m in QA_METRICS},
                scored_on=event.split or "validation",
                score_label=event.score_label,
            )
        else:
            fields["reason"] = f"stopped at step {event.step}; resumable from its checkpoint"
        self.runs_model.update(event.run_id, **fields)
        self.progress_dirty = True

    def on_run_failed(self, event: RunFailed) -> str:
        """Shows the notice; returns the run's label."""
        run = self.runs_model.update(event.run_id, status="failed", reason=event.reason, step=event.step)
        label = run.label if run is not None else event.run_id
        self.failed_notices.append(event.reason)
        self.notice.show_notice(
            f'<b style="color:{ERROR_RED}">Run failed:</b> {_esc(label)}: {_esc(event.reason)}'
            "<br>The experiment goes on with the next run; the table leaves this run out.",
            key="failed",
        )
        self.progress_dirty = True
        return label

    def on_worker_started(self, event: WorkerStarted) -> str:
        """A run's own worker began (parallel runs, Ray tasks): the runs table's "where" column shows it; the
        experiment's worker (no run id) runs all its runs otherwise, and the status line says where. Returns it."""
        text = where_text(event)
        if event.run_id:
            self.runs_model.update(event.run_id, where=text)
            self.runs_table.setColumnHidden(self.runs_model.COLUMNS.index("where"), False)
        else:
            self.job_where = text
        return text

    def on_worker_lost(self, event: WorkerLost, *, ended: bool = False) -> str | None:
        """A worker died: its run (once the job has ``ended``, every run in flight) reads 'interrupted', as in the
        store, and the notice says why; returns the label of the run it trained (None: it had not started one)."""
        reason = event.reason.split("; ")[0]
        for run in self.runs_model.runs:
            mine = run.run_id == event.run_id and run.status not in ("finished", "skipped", "failed")
            if mine or (ended and run.status in ("running", "paused")):
                self.runs_model.update(run.run_id, status="interrupted", reason=f"{reason}; Resume continues it")
        current = self.runs_model.run(event.run_id)
        label = current.label if current is not None else None
        self.notice.show_notice(
            f'<b style="color:{ERROR_RED}">Worker lost:</b> {_esc(reason)}.<br>'
            f"{_esc(f'Run {label}' if label else 'The experiment')} is interrupted; <b>Resume</b> continues it "
            "from its last checkpoint.",
            key="lost",
        )
        self.progress_dirty = True
        return label

    # --- samples-----------------------------------------------------------------------------------------------------
    def show_samples(self) -> None:
        index = self.runs_table.currentIndex()
        run_id = index.data(ExperimentRunsModel.RunIdRole) if index.isValid() else self._latest_sample_run
        if run_id not in self._samples:
            run_id = self._latest_sample_run
        found = self._samples.get(run_id) if run_id else None
        if found is None or run_id is None:
            self.samples_model.set_samples([])
            self.samples_caption.setText("Predictions appear with the first evaluation.")
            return
        step, split, samples = found
        run = self.runs_model.run(run_id)
        label = run.label if run is not None else run_id
        self.samples_model.set_samples(samples)
        self.samples_caption.setText(f"{_esc(label)} · {split} at step {step} (select a run to see its own)")

    def save_curves_png(self, path: str | Path | None = None, start: Path | None = None) -> Path | None:
        """The curves as drawn, legend included; asks where (starting in ``start``) when no path is given."""
        if path is None:
            first = str((self.folder or start or Path.home()) / "live-curves.png")
            path, _f = QFileDialog.getSaveFileName(self, "Save the curves as PNG", first, "PNG images (*.png)")
            if not path:
                return None
        self.curves.export_png(path)
        return Path(path)
