"""Projects: a readable project.toml that round-trips, phrase overrides, templates, errors that locate the problem."""

import sqlite3
import tomllib

import pytest

from mto_studio.core.data import ColumnMapping
from mto_studio.core.project import (
    DATA_DIR_ENV,
    PROJECT_FILE,
    Project,
    ProjectError,
    default_project_dir,
)
from mto_studio.core.templates import Objective, Phrase, builtin_phrases, builtin_template
from mto_studio.core.training.data import world_file
from mto_studio.core.training.experiment_config import ExperimentConfig


def test_a_saved_project_reloads_with_every_setting(tmp_path):
    project = Project.new(tmp_path / "p", "Cooking", model="mto-tiny", data="data/train.tsv", test_data="t.tsv")
    project.columns = ColumnMapping(input="head", target="tail", relation="rel")
    project.set_objective("xAttr", "filling")
    project.set_objective("xIntent", Objective.MAPPING)
    project.add_experiment(ExperimentConfig(name="ladder", templates=["unsup-nat", "sup"], shots=["8", "full"]))
    project.set_phrase("xIntent", Phrase(clause="Because {input}, PersonX aims", connective="in order"))
    project.save()

    text = (tmp_path / "p" / PROJECT_FILE).read_text()
    data = tomllib.loads(text)
    assert data["name"] == "Cooking" and data["model"] == "mto-tiny" and data["data"] == "data/train.tsv"
    assert data["columns"] == {"input": "head", "target": "tail", "relation": "rel", "default_relation": "task"}
    assert data["objectives"] == {"xAttr": "filling", "xIntent": "mapping"}
    assert data["experiments"][0]["name"] == "ladder" and "test_data" not in data["experiments"][0]
    assert (tmp_path / "p" / "phrases.toml").is_file()

    loaded = Project.load(tmp_path / "p")
    assert (loaded.name, loaded.model, loaded.data, loaded.test_data) == (
        "Cooking",
        "mto-tiny",
        "data/train.tsv",
        "t.tsv",
    )
    assert loaded.columns == project.columns
    assert loaded.objectives == {"xAttr": Objective.FILLING, "xIntent": Objective.MAPPING}
    assert [e.name for e in loaded.experiment_configs()] == ["ladder"]
    assert loaded.experiment_configs()[0].shots == ["8", "full"]
    assert loaded.phrases["xIntent"].connective == "in order"
    assert loaded.run_store_path == tmp_path / "p" / "runs.sqlite"
    assert not loaded.is_modified


def test_modification_tracking_follows_project_and_phrase_changes(tmp_path):
    project = Project.create(tmp_path / "p")
    assert not project.is_modified
    project.model = "/models/t5-small"
    assert project.is_modified
    project.model = "mto-tiny"
    assert not project.is_modified, "going back to the saved value is not a change"
    project.set_phrase("xReact", Phrase(clause="After {input}, PersonX is", connective="so PersonX is"))
    assert project.is_modified
    project.save()
    assert not project.is_modified


def test_phrase_overrides_change_rendering_and_a_builtin_equal_phrase_removes_the_override(tmp_path):
    project = Project.create(tmp_path / "p")
    before = project.library().render("unsup-nat-short", "xIntent", "PersonX buys a ticket").source
    assert before == "PersonX buys a ticket because PersonX wants <extra_id_0>"
    project.set_phrase("xIntent", Phrase(connective="since PersonX hoped"))
    assert (
        project.library().render("unsup-nat-short", "xIntent", "PersonX buys a ticket").source
        == "PersonX buys a ticket since PersonX hoped <extra_id_0>"
    )
    project.set_phrase("xIntent", Phrase(connective=builtin_phrases()["xIntent"].connective))
    assert "xIntent" not in project.phrases, "empty fields mean the built-in text, so this equals the built-in"
    project.set_phrase("task", Phrase(connective="the answer is"))
    assert project.phrase_table()["task"] == Phrase(clause="", connective="the answer is")
    with pytest.raises(Exception, match="exactly once"):
        project.set_phrase("xIntent", Phrase(clause="no input here"))


def test_project_templates_are_saved_at_once_renamed_and_reloaded(tmp_path):
    project = Project.create(tmp_path / "p")
    mine = builtin_template("unsup-nat").with_changes(name="mine", builtin=False, path=None, description="my copy")
    path = project.save_template(mine)
    assert path == tmp_path / "p" / "templates" / "mine.toml"
    assert "mine" in project.library().names()
    renamed = mine.with_changes(name="mine2")
    project.save_template(renamed, replacing="mine")
    assert not path.exists() and (tmp_path / "p" / "templates" / "mine2.toml").is_file()
    loaded = Project.load(tmp_path / "p")
    assert list(loaded.templates) == ["mine2"]
    assert loaded.templates["mine2"].source_text == "{prefix}: {rel_before} {input} {rel_after} {mask}"
    assert loaded.templates["mine2"].description == "my copy"
    with pytest.raises(Exception, match="built-in"):
        project.save_template(mine.with_changes(name="sup"))


def test_a_broken_template_file_is_reported_and_skipped(tmp_path):
    Project.create(tmp_path / "p")
    (tmp_path / "p" / "templates").mkdir()
    (tmp_path / "p" / "templates" / "bad.toml").write_text('name = "bad"\nobjective = "filling"\nsource = "{inptu}"\n')
    loaded = Project.load(tmp_path / "p")
    assert loaded.templates == {}
    assert len(loaded.template_errors) == 1 and "bad.toml" in str(loaded.template_errors[0])


def test_save_as_copies_templates_and_the_run_store_and_fixes_relative_paths(tmp_path):
    project = Project.create(tmp_path / "a")
    (tmp_path / "a" / "train.tsv").write_text("head\ttail\nx\ty\n")
    project.data = "train.tsv"
    project.save_template(builtin_template("sup").with_changes(name="mine", builtin=False))
    with sqlite3.connect(tmp_path / "a" / "runs.sqlite") as db:
        db.execute("create table runs (id text)")
        db.execute("insert into runs values ('r1')")
    project.save(tmp_path / "b")
    assert project.folder == tmp_path / "b"
    assert project.data == str((tmp_path / "a" / "train.tsv").resolve())
    assert (tmp_path / "b" / "templates" / "mine.toml").is_file()
    with sqlite3.connect(tmp_path / "b" / "runs.sqlite") as db:
        assert db.execute("select id from runs").fetchall() == [("r1",)]
    assert Project.load(tmp_path / "b").data_path() == str((tmp_path / "a" / "train.tsv").resolve())


def test_paths_resolve_world_relative_files_and_model_references(tmp_path):
    project = Project.new(tmp_path / "p")
    assert project.data_path() == str(world_file("train"))
    assert project.test_data_path() == str(world_file("test"))
    assert project.model_ref() == "mto-tiny"
    (tmp_path / "p" / "models" / "m").mkdir(parents=True)
    project.model = "models/m"
    assert project.model_ref() == str(tmp_path / "p" / "models" / "m")
    project.model = "google/flan-t5-small"
    assert project.model_ref() == "google/flan-t5-small"
    project.data = "elsewhere.csv"
    assert project.data_path() == "elsewhere.csv" and project.test_data_path() is None


def test_the_default_project_is_created_once_in_the_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    assert default_project_dir() == tmp_path / "data" / "default-project"
    first = Project.open_or_create_default()
    assert (first.model, first.data) == ("mto-tiny", "world")
    assert (tmp_path / "data" / "default-project" / PROJECT_FILE).is_file()
    first.name = "Renamed"
    first.save()
    assert Project.open_or_create_default().name == "Renamed"
    with pytest.raises(ProjectError, match="already holds a project"):
        Project.create(tmp_path / "data" / "default-project")


@pytest.mark.parametrize(
    ("text", "line", "message", "hint"),
    [
        ('name = "x"\nmodel = mto-tiny\n', 2, "syntax error", "quotes"),
        ('name = "x"\n\nmodle = "mto-tiny"\n', 3, "unknown field 'modle'", "known fields"),
        ('name = "x"\ndata = 3\n', 2, "'data' must be non-empty text", 'data = "'),
        ('name = "x"\n[columns]\ninput = "head"\n', 2, "needs the text fields input and target", "target"),
        ('name = "x"\n[objectives]\nxAttr = "maybe"\n', 3, "not filling or mapping", 'xAttr = "filling"'),
        ('name = "x"\nformat = 99\n', 2, "newer MTO Studio", "update"),
        (
            'name = "x"\n[[experiments]]\nname = "a"\n[[experiments]]\nseeds = []\n',
            4,
            "experiment 2: an experiment needs at least one seed",
            "seeds",
        ),
    ],
)
def test_malformed_project_files_name_the_file_the_line_and_the_fix(tmp_path, text, line, message, hint):
    (tmp_path / PROJECT_FILE).write_text(text)
    with pytest.raises(ProjectError) as caught:
        Project.load(tmp_path)
    error = caught.value
    assert error.line == line and error.path == tmp_path / PROJECT_FILE
    assert message in error.message and f"{PROJECT_FILE} line {line}" in error.message
    assert hint in error.hint


def test_missing_project_and_bad_phrase_file_are_clear_errors(tmp_path):
    with pytest.raises(ProjectError, match="no project.toml") as caught:
        Project.load(tmp_path / "nowhere")
    assert "New project" in caught.value.hint
    Project.create(tmp_path / "p")
    (tmp_path / "p" / "phrases.toml").write_text('[xIntent]\nclause = "no input slot"\n')
    with pytest.raises(ProjectError, match="phrases.toml: the clause for 'xIntent'"):
        Project.load(tmp_path / "p")
