"""What the Runs view and the reports show of an experiment: template names (not a project template's file path),
the size of the whole grid while it trains, and one colour per template shared by the app and the report."""

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from mto_studio.core.store import RunStore  # noqa: E402
from mto_studio.core.training.experiment_config import ExperimentConfig  # noqa: E402
from mto_studio.gui.models.runs import RunsTreeModel, experiment_summary  # noqa: E402


@pytest.fixture
def store_with_a_training_experiment(tmp_path):
    template_file = tmp_path / "project" / "templates" / "my-filling.toml"
    template_file.parent.mkdir(parents=True)
    cfg = ExperimentConfig(
        name="grid", templates=[str(template_file), "sup"], shots=["8", "32"], seeds=[0, 1], baseline="sup"
    )
    store = RunStore(tmp_path / "runs.sqlite")
    experiment = store.create_experiment("grid", cfg.to_dict(), tmp_path / "exp")
    for run_cfg in cfg.runs()[:2]:  # 2 of its 8 runs have started
        store.upsert_run(tmp_path / "exp" / run_cfg.name, name=run_cfg.label, experiment_id=experiment,
                         config=run_cfg.to_dict())  # fmt: skip
    yield store, cfg
    store.close()


def test_project_templates_show_by_name_and_the_grid_by_its_size(qtmodeltester, store_with_a_training_experiment):
    store, cfg = store_with_a_training_experiment
    model = RunsTreeModel()
    model.set_rows(store.experiments(), store.runs())
    qtmodeltester.check(model)
    top = model.index(0, 0)
    step = model.data(model.index(0, RunsTreeModel.COLUMNS.index("step")))
    assert step == "0/8 runs"
    assert model.data(model.index(0, RunsTreeModel.COLUMNS.index("template"))) == "my-filling, sup"
    children = [model.data(model.index(r, RunsTreeModel.COLUMNS.index("template"), top)) for r in range(2)]
    assert children == ["my-filling", "my-filling"]
    assert all("/" not in store.run(r.id).name for r in store.runs())
    summary = experiment_summary(store.experiments()[0], store.runs())
    assert "0/8 runs" in summary and "my-filling vs sup" in summary and ".toml" not in summary


def test_a_template_has_the_same_colour_in_the_trainer_and_in_the_report(window, tmp_path, monkeypatch):
    from mto_studio.core.training import report
    from mto_studio.core.training.experiment import experiment_colours
    from mto_studio.core.training.results import RunResult

    cfg = ExperimentConfig(name="c", templates=["unsup-nat", "sup", "sup-nat"], shots=["8"], seeds=[0])
    window.show_workbench("trainer")
    view = window.workbench("trainer")
    view.monitor.set_grid(cfg, window.context.library)
    expected = experiment_colours(cfg)
    assert {t: view.monitor.curves.colour(t) for t in cfg.templates} == expected
    assert len(set(expected.values())) == 3
    figures = []
    real = report._figure
    monkeypatch.setattr(report, "_figure", lambda *a: figures.append(real(*a)) or figures[-1])
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "metrics.jsonl").write_text(
        '{"event": "EvalDone", "step": 5, "split": "validation", "metrics": {"rougeL": 0.5}}\n'
        '{"event": "EvalDone", "step": 10, "split": "validation", "metrics": {"rougeL": 0.6}}\n'
    )
    results = [RunResult(t, "finetune", "8", 0, {"rougeL": 0.6}, folder=str(folder)) for t in reversed(cfg.templates)]
    report.plot_curves(results, tmp_path / "curves.png", colours=experiment_colours(cfg))  # as write_outputs does
    drawn = {line.get_label().split(" · ")[0]: line.get_color() for line in figures[-1].axes[0].get_lines()}
    assert drawn == expected


def test_the_labs_knowledge_legend_has_no_twins():
    from mto_studio.gui.workbenches.lab.view import KNOWLEDGE_LINES

    colours = [colour for _, colour, _ in KNOWLEDGE_LINES.values()]
    assert len(set(colours)) == len(colours)
