"""Train, validation and test are explicit and never mixed; every score says where it comes from; the shipped
ATOMIC example opens by name from the CLI and as a project."""

import json

import pytest

from mto_studio.core.data.sources import describe, get_example, list_examples, resolve_split, split_file
from mto_studio.core.errors import DataError
from mto_studio.core.project import Project
from mto_studio.core.training.config import TrainConfig
from mto_studio.core.training.data import load_splits
from mto_studio.core.training.loop import train
from mto_studio.core.training.results import RunResult, build_table, score_label
from tests.helpers import run_cli

EXAMPLE = "example:atomic2020-xintent"


def run_to_end(cfg, folder):
    events = list(train(cfg, folder))
    assert events[-1].to_dict()["event"] == "RunFinished", events[-1]
    return events


def evals(folder):
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == "EvalDone"]


def small_run(**settings):
    return TrainConfig.from_dict(
        {
            "template": "unsup-nat",
            "shots": 8,
            "steps": 20,
            "eval_every": 5,
            "batch_size": 8,
            "max_new_tokens": 6,
            "warmup_steps": 2,
            **settings,
        }
    )


# --- references and splits ----------------------------------------------------------------------------------------
def test_the_example_is_listed_and_resolves_per_split():
    names = [e.ref for e in list_examples()]
    assert EXAMPLE in names
    assert split_file(EXAMPLE, "train").endswith("atomic2020-xintent/train.tsv")
    assert split_file(EXAMPLE, "validation").endswith("atomic2020-xintent/validation.tsv")
    assert resolve_split(EXAMPLE, None, "validation") == EXAMPLE
    assert resolve_split(EXAMPLE, None, "test") is None  # it ships no test file
    assert resolve_split("world", None, "validation") is None and resolve_split("world", None, "test") == "world"
    assert resolve_split("/my/train.csv", None, "test") is None
    assert describe(None, "validation") == "held out of the training data"
    with pytest.raises(DataError, match="has no test file"):
        split_file(EXAMPLE, "test")


def test_an_unknown_example_names_the_ones_there_are():
    with pytest.raises(DataError) as caught:
        get_example("atomic-2021")
    assert "no example named 'atomic-2021'" in caught.value.one_line()
    assert EXAMPLE in caught.value.one_line()


def test_with_a_validation_file_nothing_is_held_out_of_train_and_validation_comes_from_the_file():
    splits = load_splits(small_run(data=EXAMPLE))
    assert len(splits.pool) == 200 and len(splits.validation) == 30  # 34 heads, 4 of them only "none"
    assert splits.validation_source.endswith("validation.tsv") and splits.test == [] and splits.test_source is None
    held = load_splits(small_run(data=split_file(EXAMPLE, "train")))  # the same file as a plain path
    assert held.validation_source is None and len(held.validation) == 8 and len(held.pool) == 192


def test_a_missing_split_file_is_named_with_its_split(tmp_path):
    with pytest.raises(DataError, match=r"^validation data: data file not found: .*nope\.tsv"):
        load_splits(small_run(data=EXAMPLE, validation_data=str(tmp_path / "nope.tsv")))
    bad = tmp_path / "test.tsv"
    bad.write_text("colour\tsize\nred\tbig\n")
    with pytest.raises(DataError, match="^test data: no recognisable columns"):
        load_splits(small_run(data=EXAMPLE, test_data=str(bad)))
    bad.write_text("input\ttarget\nPersonX waves\tto greet\n")  # readable, but not the task's relation
    with pytest.raises(DataError, match=r"relation\(s\) \['xIntent'\] are not in the test data \(test.tsv\)"):
        load_splits(small_run(data=EXAMPLE, test_data=str(bad)))


# --- honest scores -------------------------------------------------------------------------------------------------
def test_without_a_test_split_the_score_is_the_kept_checkpoints_validation_score_and_says_so(tmp_path):
    folder = tmp_path / "run"
    events = run_to_end(small_run(data=EXAMPLE), folder)
    result = json.loads((folder / "result.json").read_text())
    assert result["split"] == "validation" and result["score_label"] == "Validation ROUGE-L (best checkpoint)"
    assert result["scored"]["heads"] == 30 and result["scored"]["source"].endswith("validation.tsv")
    assert "optimistic" in result["scored"]["note"]
    assert events[-1].split == "validation" and events[-1].score_label == result["score_label"]
    curve = [e for e in evals(folder) if not e["final"]]
    steps = [e["step"] for e in curve]
    assert steps == [5, 10, 15, 20]  # one point per evaluation: the end is not logged twice
    by_step = {e["step"]: e["metrics"]["rougeL"] for e in curve}
    best = result["best_step"]
    assert by_step[best] == max(by_step.values())
    # the reported number is the curve's value at the kept checkpoint (the same weights, the same heads)
    assert result["metrics"]["rougeL"] == pytest.approx(by_step[best], abs=1e-9)
    finals = [e for e in evals(folder) if e["final"]]
    assert len(finals) == (0 if best == 20 else 1)
    assert all(e["step"] == best and e["split"] == "validation" for e in finals)


def test_with_a_test_file_the_score_comes_from_test_alone(tmp_path):
    rows = split_file(EXAMPLE, "validation")
    header, *lines = open(rows, encoding="utf-8").read().splitlines()
    heads = list(dict.fromkeys(line.split("\t")[1] for line in lines))
    half = set(heads[: len(heads) // 2])  # split by head, so no head is in both files
    (tmp_path / "val.tsv").write_text("\n".join([header, *(x for x in lines if x.split("\t")[1] in half)]) + "\n")
    (tmp_path / "test.tsv").write_text("\n".join([header, *(x for x in lines if x.split("\t")[1] not in half)]))
    folder = tmp_path / "run"
    run_to_end(
        small_run(data=EXAMPLE, validation_data=str(tmp_path / "val.tsv"), test_data=str(tmp_path / "test.tsv")), folder
    )
    result = json.loads((folder / "result.json").read_text())
    split = json.loads((folder / "split.json").read_text())
    assert result["split"] == "test" and result["score_label"] == "Test ROUGE-L"
    assert result["scored"]["heads"] == len(split["test_head_ids"]) > 0
    assert not set(split["test_head_ids"]) & set(split["validation_head_ids"])
    test_events = [e for e in evals(folder) if e["split"] == "test"]
    assert len(test_events) == 1 and test_events[0]["final"]
    assert result["metrics"]["rougeL"] == pytest.approx(test_events[0]["metrics"]["rougeL"])
    predictions = (folder / "predictions.jsonl").read_text().splitlines()
    assert len(predictions) == result["scored"]["heads"]


def test_tables_and_labels_name_their_split():
    assert score_label("test") == "Test ROUGE-L"
    assert score_label("validation") == "Validation ROUGE-L (best checkpoint)"
    assert score_label("validation", checkpoint="last") == "Validation ROUGE-L (last checkpoint)"
    runs = [RunResult("sup", "finetune", "8", seed, {"rougeL": 0.5 + seed / 10}, split="validation") for seed in (0, 1)]
    table = build_table(runs)
    assert table.label == "Validation ROUGE-L (best checkpoint)"
    text = table.markdown()
    assert text.startswith("**Validation ROUGE-L (best checkpoint)** on all relations") and "optimistic" in text
    assert "validation" in table.csv().splitlines()[1]
    mixed = build_table(runs + [RunResult("sup", "finetune", "8", 2, {"rougeL": 0.4}, split="test")])
    assert mixed.label.startswith("ROUGE-L (mixed")


# --- the project ----------------------------------------------------------------------------------------------------
def test_a_project_keeps_three_splits_and_opens_the_example(tmp_path, monkeypatch):
    monkeypatch.setenv("MTO_STUDIO_DATA_DIR", str(tmp_path / "user"))
    project = Project.open_example("atomic2020-xintent")
    assert project.data == EXAMPLE and project.validation_data == EXAMPLE and project.test_data is None
    assert project.folder == tmp_path / "user" / "examples" / "atomic2020-xintent"
    assert project.split_path("validation").endswith("validation.tsv") and project.split_path("test") is None
    assert project.run_data_refs() == {"data": EXAMPLE, "validation_data": EXAMPLE, "test_data": None}
    again = Project.open_example("example:atomic2020-xintent")  # opened, not created twice
    assert again.folder == project.folder and not again.is_modified
    (tmp_path / "t.tsv").write_text("prefix\tinput_text\ttarget_text\nxIntent\tPersonX waves\tto greet\n")
    project.test_data = str(tmp_path / "t.tsv")
    project.save()
    loaded = Project.load(project.folder)
    assert loaded.test_data == str(tmp_path / "t.tsv") and loaded.split_path("test") == str(tmp_path / "t.tsv")
    assert 'validation_data = "example:atomic2020-xintent"' in project.project_file.read_text()
    with pytest.raises(DataError, match="no example named 'nope'"):
        Project.open_example("nope")


# --- the command line -----------------------------------------------------------------------------------------------
def test_cli_unknown_example_is_one_line_listing_the_examples_exit_2(tmp_path):
    done = run_cli("train", "--data", "example:nope", "--steps", "2", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no example named 'nope'" in lines[0] and EXAMPLE in lines[0]
    assert list(tmp_path.iterdir()) == []  # nothing written for a run that could not start
    listed = run_cli("examples")
    assert listed.returncode == 0 and EXAMPLE in listed.stdout and "510 rows, 200 heads" in listed.stdout


def test_cli_missing_validation_file_names_the_split(tmp_path):
    done = run_cli(
        "train",
        "--data",
        EXAMPLE,
        "--validation-data",
        str(tmp_path / "v.tsv"),
        "--steps",
        "2",
        "--out",
        str(tmp_path / "run"),
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"mto-studio: error: validation data: data file not found: {tmp_path / 'v.tsv'} — check the path, or pick "
        "the file with --validation-data / the Data workbench's Splits box"
    ]


def test_cli_sweep_on_the_example_labels_every_score_as_validation(tmp_path):
    out = tmp_path / "exp"
    done = run_cli(
        "sweep",
        "--data",
        EXAMPLE,
        "--templates",
        "unsup-nat,sup",
        "--shots",
        "8",
        "--seeds",
        "1",
        "--steps",
        "10",
        "--eval-every",
        "5",
        "--set",
        "max_new_tokens=6",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    report = (out / "report.md").read_text()
    assert "Validation ROUGE-L (best checkpoint)" in report and "Test ROUGE-L" not in report
    assert "validation (checkpoint selection): example:atomic2020-xintent (validation)" in report
    assert "There is no test split" in report
    assert "Validation ROUGE-L (best checkpoint)" in (out / "results.md").read_text()
    for table in json.loads((out / "tables.json").read_text()):
        assert table["splits"] == ["validation"]


# --- what the review found ----------------------------------------------------------------------------------------
def test_no_head_serves_two_splits(tmp_path):
    train_file = split_file(EXAMPLE, "train")
    with pytest.raises(DataError, match="share 30 of 30 heads"):
        load_splits(small_run(data=EXAMPLE, test_data=split_file(EXAMPLE, "validation")))
    with pytest.raises(DataError, match="no training heads are left: all 200"):
        load_splits(small_run(data=EXAMPLE, validation_data=train_file))
    header, *lines = open(train_file, encoding="utf-8").read().splitlines()
    firsts = list(dict.fromkeys(x.split("\t")[1] for x in lines))[:20]
    (tmp_path / "test.tsv").write_text("\n".join([header, *(x for x in lines if x.split("\t")[1] in firsts)]))
    splits = load_splits(small_run(data=EXAMPLE, test_data=str(tmp_path / "test.tsv")))
    assert len(splits.test) == 20 and splits.removed_from_train == 20 and len(splits.pool) == 180
    assert not {h.id for h in splits.pool} & {h.id for h in splits.test}
    held = load_splits(small_run(data=train_file, test_data=str(tmp_path / "test.tsv")))  # held-out validation
    ids = [{h.id for h in part} for part in (held.pool, held.validation, held.test)]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2] and held.removed_from_train == 20


def test_none_asks_for_no_file_even_where_the_data_set_has_one():
    splits = load_splits(small_run(data=EXAMPLE, validation_data="none"))
    assert splits.validation_source is None and len(splits.validation) == 8 and len(splits.pool) == 192
    world = load_splits(small_run(data="world", test_data="none"))
    assert world.test == [] and world.test_source is None


def test_the_last_weights_are_labelled_as_such(tmp_path):
    folder = tmp_path / "run"
    run_to_end(small_run(data=EXAMPLE, select_best=False, steps=10), folder)
    result = json.loads((folder / "result.json").read_text())
    assert result["score_label"] == "Validation ROUGE-L (last checkpoint)"
    assert result["scored"]["checkpoint"] == "last" and "optimistic" not in result["scored"]["note"]
    found = RunResult.from_folder(folder)
    assert (found.split, found.checkpoint) == ("validation", "last")
    table = build_table([found])
    assert table.label == "Validation ROUGE-L (last checkpoint)" and "optimistic" not in table.markdown()


def test_a_table_without_results_claims_no_split():
    assert build_table([]).label == "ROUGE-L"
    assert build_table([], expected_split="validation").label == "Validation ROUGE-L (best checkpoint)"
    assert build_table([], expected_split="test").label == "Test ROUGE-L"


def test_an_experiment_with_the_adaptation_stage_runs_on_the_example(tmp_path):
    from mto_studio.core.training.experiment import run_experiment
    from mto_studio.core.training.experiment_config import ExperimentConfig

    cfg = ExperimentConfig(
        name="adapted",
        data=EXAMPLE,
        templates=["sup"],
        shots=["8"],
        seeds=[0],
        train={"steps": 5, "eval_every": 5, "batch_size": 8, "max_new_tokens": 4, "warmup_steps": 1},
        adaptation={"enabled": True, "steps": 5, "max_sentences": 40},
    )
    events = [e.to_dict() for e in run_experiment(cfg, tmp_path / "exp")]
    assert not [e for e in events if e["event"] == "RunFailed"], events
    assert events[-1]["event"] == "ExperimentFinished" and events[-1]["failed_runs"] == 0
    result = json.loads(next((tmp_path / "exp" / "runs").iterdir()).joinpath("result.json").read_text())
    assert result["split"] == "validation" and result["scored"]["source"].endswith("validation.tsv")
