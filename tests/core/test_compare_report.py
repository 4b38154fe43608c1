"""The report of compared runs (the Runs view's export), composed by the core from the store's rows."""

from mto_studio.core.store.sqlite import ExperimentRow, RunRow
from mto_studio.core.training.compare_report import config_diff, runs_table, write_compare_report


def run_row(run_id, folder, template, scored_on, label, rouge, **config) -> RunRow:
    return RunRow(
        id=run_id,
        experiment_id=1,
        folder=str(folder),
        name=f"run {run_id}",
        template=template,
        method="finetune",
        shots="8",
        seed=0,
        status="finished",
        reason=None,
        step=10,
        total_steps=10,
        config={"name": f"run {run_id}", "template": template, "method": "finetune", "lr": 1e-3, **config},
        metrics={"rougeL": rouge, "exact_match": 0.25, "scored_on": scored_on, "score_label": label},
        created=0.0,
        updated=0.0,
    )


def test_the_report_names_each_runs_template_score_and_label(tmp_path):
    experiment_folder = tmp_path / "experiment"
    experiment_folder.mkdir()
    (experiment_folder / "report.md").write_text("# the experiment\n")
    (experiment_folder / "table.csv").write_text("a,b\n")
    experiment = ExperimentRow(1, "grid", str(experiment_folder), {}, "finished", 0.0, 0.0)
    runs = [
        run_row(
            1, tmp_path / "r1", "templates/my-filling.toml", "validation", "Validation ROUGE-L (best checkpoint)", 0.5
        ),
        run_row(2, tmp_path / "r2", "sup", "test", "Test ROUGE-L", 0.625, lr=2e-3),
    ]
    chart = tmp_path / "out" / "compare-curves.png"
    chart.parent.mkdir()
    chart.write_bytes(b"png")

    written = write_compare_report(tmp_path / "out", runs, [experiment], chart=chart)

    report = tmp_path / "out" / "report.md"
    copied = tmp_path / "out" / "experiment-1" / "report.md"
    assert written == [report, chart, copied]
    text = report.read_text()
    assert text.startswith("# MTO Studio: 2 run(s) compared\n")
    assert (
        "| run 1 | my-filling | finetune | k=8 | 0 | finished | Validation ROUGE-L (best checkpoint) | 0.500 |" in text
    )
    assert "| run 2 | sup | finetune | k=8 | 0 | finished | Test ROUGE-L | 0.625 | 0.250 |" in text
    assert "had no test split" in text  # one run is scored on validation
    assert "![compared curves](compare-curves.png)" in text
    assert "| setting | #1 | #2 |" in text and "| lr | 0.001 | 0.002 |" in text
    assert "## Experiment grid" in text and "(experiment-1/report.md)" in text
    assert (tmp_path / "out" / "experiment-1" / "table.csv").is_file()
    assert not (tmp_path / "out" / "validation-curves.png").exists()  # no run folder holds a finished result


def test_test_scores_need_no_note_and_one_run_differs_in_nothing(tmp_path):
    run = run_row(1, tmp_path / "r1", "sup", "test", "Test ROUGE-L", 0.5)
    assert "no test split" not in runs_table([run])
    assert config_diff([run.config]) == ([], [])
    text = write_compare_report(tmp_path, [run])[0].read_text()
    assert "Settings that differ" not in text and "compared curves" not in text
