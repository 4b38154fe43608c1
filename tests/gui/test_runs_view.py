"""The Runs workbench on a project whose store holds real experiments (fine-tuning, LoRA and prompt tuning runs of
the tiny model): the tree, comparing runs, exporting what they produced (and reloading it), the reproducing command,
and marking dead runs interrupted at start-up."""

import json

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtGui import QGuiApplication  # noqa: E402

from mto_studio.core.jobs.events import RunStarted  # noqa: E402
from mto_studio.core.project import Project  # noqa: E402
from mto_studio.core.store import RunStore  # noqa: E402
from mto_studio.core.training.experiment import run_experiment  # noqa: E402
from mto_studio.core.training.experiment_config import ExperimentConfig  # noqa: E402
from mto_studio.gui.jobs import run_owners  # noqa: E402
from mto_studio.gui.models.runs import RunsTreeModel  # noqa: E402

TRAIN = {"steps": 10, "eval_every": 5, "batch_size": 8, "validation_heads": 4, "warmup_steps": 2, "max_new_tokens": 4}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir, small_world_tsv):
    """A project folder whose run store holds two experiments: unsup-nat vs sup with fine-tuning and LoRA, and one
    prompt-tuning run."""
    folder = tmp_path_factory.mktemp("runs-project")
    store = RunStore(folder / "runs.sqlite")
    grids = [
        ExperimentConfig(
            name="ft-lora",
            data=str(small_world_tsv),
            model=str(tiny_model_dir),
            templates=["unsup-nat", "sup"],
            shots=["full"],
            seeds=[0],
            methods=["finetune", "lora"],
            train=TRAIN,
        ),
        ExperimentConfig(
            name="prompt",
            data=str(small_world_tsv),
            model=str(tiny_model_dir),
            templates=["prompt-unsup-nat"],
            shots=["4"],
            seeds=[0],
            methods=["prompt"],
            train={**TRAIN, "prompt_lr": 0.1},
        ),
    ]
    for cfg in grids:
        events = list(run_experiment(cfg, folder / "experiments" / cfg.name, store=store))
        assert events[-1].status == "finished", events[-1]
    store.close()
    return folder


@pytest.fixture
def default_project(isolated, tiny_model_dir, small_world_tsv, trained) -> Project:
    project = Project.open_or_create_default()
    project.model = str(tiny_model_dir)
    project.data = str(small_world_tsv)
    project.run_store = str(trained / "runs.sqlite")
    project.save()
    return project


def runs_view(window):
    window.show_workbench("runs")
    return window.workbench("runs")


def runs_by_name(view):
    return {(r.template, r.method): r for r in view.tree_model.runs()}


def test_the_tree_lists_experiments_and_runs(window, qtmodeltester):
    view = runs_view(window)
    model = view.tree_model
    assert model.rowCount() == 2 and [e.name for e in model.experiments()] == ["prompt", "ft-lora"]
    first = model.index(1, 0)
    assert model.rowCount(first) == 4 and "ft-lora" in first.data() and "4/4 runs" in first.data()
    assert view.tree.isFirstColumnSpanned(1, first.parent())
    run_index = model.index(0, 0, first)
    columns = RunsTreeModel.COLUMNS
    row = {c: model.index(0, i, first).data() for i, c in enumerate(columns)}
    assert row["template"] == "unsup-nat" and row["method"] == "finetune" and row["k"] == "full"
    assert row["status"] == "finished" and row["step"] == "10/10" and row["ROUGE-L"] != "—"
    assert model.parent(run_index) == first
    assert "2 experiment(s), 5 run(s): 5 finished" in view.summary_label.text()
    qtmodeltester.check(model)


def test_comparing_runs_overlays_curves_and_diffs_config_and_template(window, qtmodeltester):
    view = runs_view(window)
    runs = runs_by_name(view)
    a, b = runs[("unsup-nat", "finetune")], runs[("sup", "lora")]
    view.select_runs([a.id, b.id])
    assert [r.id for r in view.compared] == [a.id, b.id]
    for run in (a, b):
        label = view._label(run)
        assert [s for s, _, _ in view.chart.points("loss", label)] == [5, 10]
        assert [s for s, _, _ in view.chart.points("rougeL", label)] == [5, 10]
    diff = view.diff_model
    assert {"template", "method"} <= set(diff.fields) and "seed" not in diff.fields
    assert diff.values[diff.fields.index("method")] == ["finetune", "lora"]
    qtmodeltester.check(diff)
    names = [view.template_diff.a_combo.currentData(), view.template_diff.b_combo.currentData()]
    assert names == [f"unsup-nat (#{a.id})", f"sup (#{b.id})"]
    assert "differ" in view.template_diff.summary_label.text()
    # An experiment stands for all of its runs.
    view.select_experiment(view.tree_model.experiments()[1].id)
    assert len(view.compared) == 4 and "4 run(s)" in view.compare_caption.text()


def test_exports_reload(window, tmp_path):
    from transformers import AutoModelForSeq2SeqLM

    from mto_studio.core.templates import TemplateLibrary
    from mto_studio.core.training.methods import load_lora
    from mto_studio.core.training.prompt import SoftPromptModel

    view = runs_view(window)
    runs = runs_by_name(view)
    view.select_runs([runs[("unsup-nat", "finetune")].id])
    assert view.export_actions["model"].isEnabled() and not view.export_actions["lora"].isEnabled()
    model_dir = view.export_artifact("model", tmp_path / "out")
    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir)
    assert model.config.d_model == 32
    template = view.export_artifact("template", tmp_path / "out")
    assert template.suffix == ".toml" and TemplateLibrary().get(str(template)).name == "unsup-nat"

    view.select_runs([runs[("sup", "lora")].id])
    lora_dir = view.export_artifact("lora", tmp_path / "out")
    base = AutoModelForSeq2SeqLM.from_pretrained(
        json.loads((lora_dir / "adapter_config.json").read_text())["base_model_name_or_path"]
    )
    assert sum("lora" in name for name, _ in load_lora(lora_dir, base).named_parameters()) > 0

    view.select_runs([runs[("prompt-unsup-nat", "prompt")].id])
    prompt_dir = view.export_artifact("prompt", tmp_path / "out")
    backbone = AutoModelForSeq2SeqLM.from_pretrained(window.context.project.model)
    prompts = SoftPromptModel.load(prompt_dir, backbone)
    assert prompts.encoder is not None

    view.select_experiment(view.tree_model.experiments()[1].id)
    report = view.export_report(tmp_path / "report")
    text = report.read_text()
    assert "| unsup-nat · finetune · k=full · seed 0 |" in text and "compare-curves.png" in text
    png = (tmp_path / "report" / "compare-curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert (tmp_path / "report" / "validation-curves.png").is_file()
    assert any(p.name == "report.md" for p in (tmp_path / "report").glob("experiment-*/report.md"))


def test_show_command_writes_the_config_and_copies_the_line(window, dialogs):
    import argparse
    import shlex

    from mto_studio.cli import sweep_cmd

    view = runs_view(window)
    experiment = view.tree_model.experiments()[1]
    view.select_experiment(experiment.id)
    dialog = view.show_command()
    assert dialog is not None and dialog.command.startswith("mto-studio sweep --config ")
    assert f"--out {experiment.folder} --resume" in dialog.command
    parser = argparse.ArgumentParser()
    sweep_cmd.configure(parser)
    args = parser.parse_args(shlex.split(dialog.command.splitlines()[0])[2:])
    assert args.out.endswith("-rerun")
    rebuilt = sweep_cmd.experiment_from_args(args)  # what `mto-studio sweep` would run
    assert rebuilt.to_dict() == ExperimentConfig.from_dict(experiment.config).to_dict()
    dialog.copy()
    assert QGuiApplication.clipboard().text() == dialog.command
    dialog.close()


def test_dead_runs_are_marked_interrupted_at_start_up_but_not_owned_ones(window, tmp_path):
    view = runs_view(window)
    store = RunStore(window.context.project.run_store_path)
    dead = store.upsert_run(tmp_path / "dead", name="dead")
    live = store.upsert_run(tmp_path / "live", name="live")
    for run in (dead, live):
        store.record(run, RunStarted("r", "r", 10))
    run_owners(window.context).claim([str(tmp_path / "live")])
    view._open_store(mark_dead=True)
    view.refresh()
    assert (store.run(dead).status, store.run(live).status) == ("interrupted", "running")
    statuses = {r.name: r.status for r in view.tree_model.runs()}
    assert statuses["dead"] == "interrupted" and statuses["live"] == "running"
    run_owners(window.context).release([str(tmp_path / "live")])
    for run in (dead, live):
        store.set_run_status(run, "failed", "test rows")
    store.close()
