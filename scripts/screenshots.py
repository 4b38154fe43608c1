"""Screenshots of the main window (data view, template designer, template diff, analyzer, trainer mid-experiment,
its result table, the runs comparison, the Objective Lab) at 1600×1000 for the README.

Run under a real X display, e.g.:
    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots.py [--out resources/screenshots]

Uses a fresh default project in a temporary user data folder (your own settings and projects are untouched), on
the embedded model mto-tiny; until that model is installed, on a tiny randomly initialised test model (its
tokenizer splits words into many pieces, so the token chips look busier than with mto-tiny), and the trainer shots
fine-tune mto-tiny's architecture from fresh weights (so the scores are what a model without pre-training reaches).
`--only trainer results runs-compare lab` takes some of the shots.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.helpers (the fallback model)

from mto_studio.core.runtime import prepare_environment  # noqa: E402

WIDTH, HEIGHT = 1600, 1000
SHOTS = ("data-view", "designer", "designer-diff", "analyzer", "trainer", "results", "runs-compare", "lab")


def wait_until(app, condition, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not finish loading in time")
        app.processEvents()
        time.sleep(0.02)


def settle(app, seconds: float = 0.4) -> None:
    """Let layouts, resizes and repaints finish."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "resources" / "screenshots"), help="folder for the PNGs")
    parser.add_argument("--only", nargs="+", choices=SHOTS, help="take only these shots")
    args = parser.parse_args()
    wanted = set(args.only or SHOTS)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="mto-screenshots-"))
    os.environ["MTO_STUDIO_DATA_DIR"] = str(scratch / "user-data")
    prepare_environment()

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(scratch / "settings"))
    from mto_studio.core.models.loading import EMBEDDED_MODEL, embedded_model_dir
    from mto_studio.core.project import Project
    from mto_studio.gui.context import StudioContext
    from mto_studio.gui.main_window import MainWindow
    from mto_studio.gui.settings import APPLICATION, ORGANIZATION
    from mto_studio.gui.theme import apply_theme, icon

    app = QApplication([sys.argv[0]])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setWindowIcon(icon("mto-studio"))
    apply_theme(app)
    project = Project.open_or_create_default()
    if (embedded_model_dir() / "config.json").is_file():
        model_note = f"the embedded model {EMBEDDED_MODEL}"
    else:
        from tests.helpers import build_tiny_model

        project.model = str(build_tiny_model(scratch / "tiny-test-model"))
        project.save()
        model_note = "a tiny test model (mto-tiny is not installed yet)"
    context = StudioContext(project)
    window = MainWindow(context)
    window.resize(WIDTH, HEIGHT)
    window.show()
    window.move(0, 0)
    wait_until(
        app,
        lambda: (
            context.data is not None
            and context.data.task is not None
            and (context.tokenizer is not None or context.tokenizer_error is not None)
        ),
    )
    settle(app)

    shots = []
    if wanted & {"data-view"}:
        take_data_view(app, window, shots)
    if wanted & {"designer", "designer-diff"}:
        take_designer(app, window, shots, wanted)
    if "analyzer" in wanted:
        take_analyzer(app, window, shots)
    if wanted & {"trainer", "results", "runs-compare"}:
        take_trainer(app, window, shots, wanted, scratch)
    if "lab" in wanted:
        take_lab(app, window, shots, scratch)

    for name, pixmap in shots:
        path = out / name
        if not pixmap.save(str(path)):
            raise OSError(f"could not write {path}")
        print(f"wrote {path} ({pixmap.width()}×{pixmap.height()}) with {model_note}")
    window.context.project.save()
    for widget in window.workbenches.values():
        if hasattr(widget, "discard_changes"):
            widget.discard_changes()
    window.close()
    context.shutdown()
    return 0


def take_data_view(app, window, shots) -> None:
    window.show_workbench("data")
    data_view = window.workbench("data")
    data_view.rows_view.selectRow(4)
    settle(app)
    shots.append(("data-view.png", window.grab()))


def take_designer(app, window, shots, wanted) -> None:
    window.show_workbench("templates")
    designer = window.workbench("templates")
    designer.select_template("unsup-nat")
    draft = designer.duplicate()
    designer.name_edit.setText("my-filling")
    designer.name_edit.textEdited.emit("my-filling")
    designer.description_edit.setText("Filling with a soft prompt before the sentinel")
    designer.description_edit.textEdited.emit(designer.description_edit.text())
    source = "{input} {rel} {soft:4} {mask}"
    designer.pattern_edits["source"].setText(source)
    designer.pattern_edits["source"].textEdited.emit(source)
    designer.strips["source"].selected = 1
    designer.strips["source"].set_slots(draft.source_slots)
    designer.preview.max_source_spin.setValue(32)  # shows a cut row or two
    settle(app)
    if "designer" in wanted:
        shots.append(("designer.png", window.grab()))

    designer.tabs.setCurrentWidget(designer.diff_view)
    designer.diff_view.select(None, "sup")
    settle(app)
    if "designer-diff" in wanted:
        shots.append(("designer-diff.png", window.grab()))


def take_analyzer(app, window, shots) -> None:
    # The analyzer with a finished analysis (default settings) on the default project, showing the relation whose
    # templates differ most in format fit.
    window.show_workbench("analyzer")
    analyzer = window.workbench("analyzer")
    if analyzer.start() is None:
        raise RuntimeError("the analysis could not start")
    wait_until(app, lambda: not analyzer.is_running, timeout_s=900)
    if analyzer.report is None:
        raise RuntimeError(f"the analysis did not finish: {analyzer.status_label.text()}")

    def spread(relation) -> float:
        values = [s.log_likelihood for s in relation.scores]
        return max(values) - min(values) if values else 0.0

    analyzer.results.select_relation(max(analyzer.report.relations, key=spread).relation)
    settle(app)
    shots.append(("analyzer.png", window.grab()))


def training_model(scratch: Path) -> str:
    """mto-tiny when installed; else its architecture with fresh weights (a model the trainer can move)."""
    from mto_studio.core.models.loading import EMBEDDED_MODEL, embedded_model_dir

    if (embedded_model_dir() / "config.json").is_file():
        return EMBEDDED_MODEL
    from tests.benchmarks.bench_trainer import build_model_folder

    folder = scratch / "mto-tiny-architecture"
    if not (folder / "config.json").is_file():
        build_model_folder(folder)
    return str(folder)


def take_trainer(app, window, shots, wanted, scratch: Path) -> None:
    """An experiment of unsup-nat vs sup × k = 8, 32, full × 3 seeds: the trainer mid-way (seed bands on the
    cells that have finished), the result table at the end, and the runs view comparing four of its runs."""
    from mto_studio.core.training.experiment_config import ExperimentConfig

    context = window.context
    project_model = context.project.model
    context.project.model = training_model(scratch)
    window.show_workbench("trainer")
    trainer = window.workbench("trainer")
    trainer._refresh_source_label()
    trainer.settings.apply_config(
        ExperimentConfig(
            name="unsup-nat-vs-sup",
            templates=["unsup-nat", "sup"],
            shots=["8", "32", "full"],
            seeds=[0, 1, 2],
            train={"steps": 100, "eval_every": 20, "batch_size": 16},
        )
    )
    if trainer.start() is None:
        raise RuntimeError("the experiment could not start")

    def finished() -> int:
        return sum(r.status == "finished" for r in trainer.monitor.runs_model.runs)

    # Mid-experiment: the k = 8 and k = 32 cells done (bands drawn), a full-data run training.
    wait_until(
        app,
        lambda: (
            finished() >= 13 and any(r.status == "running" and r.step >= 40 for r in trainer.monitor.runs_model.runs)
        ),
        timeout_s=1800,
    )
    trainer.monitor.runs_table.selectRow(
        next(i for i, r in enumerate(trainer.monitor.runs_model.runs) if r.status == "running")
    )
    trainer.monitor.tabs.setCurrentIndex(0)
    settle(app, 0.6)
    if "trainer" in wanted:
        shots.append(("trainer.png", window.grab()))
    wait_until(app, lambda: trainer.worker is None, timeout_s=1800)
    trainer.monitor.tabs.setCurrentIndex(0)
    trainer.monitor.runs_table.clearSelection()
    # The result table and the ladder take the room here; the curves are trainer.png's subject.
    trainer.monitor.vsplitter.setSizes([360, 540])
    trainer.monitor.bottom_splitter.setSizes([480, 730])
    settle(app, 0.6)
    if "results" in wanted:
        shots.append(("results.png", window.grab()))
    if "runs-compare" in wanted:
        window.show_workbench("runs")
        runs_view = window.workbench("runs")
        runs_view.refresh()
        rows = {(r.template, r.shots, r.seed): r.id for r in runs_view.tree_model.runs()}
        runs_view.select_runs(
            [
                rows[("unsup-nat", "8", 0)],
                rows[("sup", "8", 0)],
                rows[("unsup-nat", "full", 0)],
                rows[("sup", "full", 0)],
            ]
        )
        runs_view.tabs.setCurrentIndex(1)
        settle(app, 0.6)
        shots.append(("runs-compare.png", window.grab()))
    context.project.model = project_model


def take_lab(app, window, shots, scratch: Path) -> None:
    """The Objective Lab part-way through a short run of the pilot recipe."""
    window.show_workbench("lab")
    lab = window.workbench("lab")
    lab.settings.load_recipe(resource_path("recipes", "pilot.toml"))
    lab.settings.steps_spin.setValue(300)
    lab.settings.eval_spin.setValue(100)
    if lab.start() is None:
        raise RuntimeError("pre-training could not start")
    wait_until(
        app,
        lambda: (
            lab.worker is None
            or (lab._step >= 260 and len(lab.chart.points("knowledge", "fill, held-out wording")) >= 2)
        ),
        timeout_s=1800,
    )
    settle(app, 0.6)
    shots.append(("lab.png", window.grab()))
    if lab.worker is not None:
        lab.stop()
        wait_until(app, lambda: lab.worker is None, timeout_s=300)


def resource_path(*parts: str) -> Path:
    from mto_studio.core.resources import resource

    return resource(*parts)


if __name__ == "__main__":
    sys.exit(main())
