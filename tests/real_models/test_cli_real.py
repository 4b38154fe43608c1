"""`sweep`, `analyze` and `train` from the command line on real architectures (T5 v1.0, T5 v1.1, mT5, BART): exit
0, every run finished with finite metrics, the analyzer decides every relation with finite scores."""

from __future__ import annotations

import csv
import json
import math

from mto_studio.cli import main
from tests.helpers import run_cli


def test_sweep_of_two_templates_and_two_methods(tmp_path, capsys, real_model, real_data):
    out = tmp_path / "exp"
    rc = main(["sweep", "--model", str(real_model.folder), "--data", str(real_data),
               "--test-data", str(real_data.with_name("small-test.tsv")), "--templates", "unsup-nat,sup",
               "--shots", "4", "--seeds", "1", "--methods", "finetune,lora", "--steps", "6", "--eval-every", "0",
               "--lr", "0.01", "--batch-size", "8", "--out", str(out)])  # fmt: skip
    said = capsys.readouterr()
    assert rc == 0, said.err
    runs = sorted((out / "runs").iterdir())
    assert len(runs) == 4, runs
    for run in runs:
        result = json.loads((run / "result.json").read_text())
        assert result["status"] == "finished", (run.name, result)
        assert all(math.isfinite(v) for v in result["metrics"].values()), (run.name, result["metrics"])
    rows = list(csv.DictReader((out / "results.csv").open()))
    cells = {(r["template"], r["metric"]) for r in rows}
    assert {("unsup-nat", "rougeL"), ("sup", "rougeL")} <= cells, cells
    assert all(math.isfinite(float(r["mean"])) for r in rows if r["metric"] == "rougeL"), rows
    from mto_studio.core.store import RunStore

    with RunStore(out / "runs.sqlite") as store:
        assert [e.status for e in store.experiments()] == ["finished"]
        assert sorted({r.status for r in store.runs()}) == ["finished"]


def test_analyze_decides_every_relation_with_finite_scores(tmp_path, capsys, real_model, real_data):
    report = tmp_path / "analysis.json"
    rc = main(["analyze", "--model", str(real_model.folder), "--data", str(real_data), "--strategy", "probe,rules",
               "--n", "2", "--json", "--out", str(report)])  # fmt: skip
    said = capsys.readouterr()
    assert rc == 0, said.err
    data = json.loads(report.read_text())
    assert set(data["decisions"]) == {"AtLocation", "xIntent"}, data["decisions"]
    for relation in data["relations"]:
        assert relation["scores"] and relation["best_template"], relation["relation"]
        templates = {score["template"] for score in relation["scores"]}
        assert {"sup", "sup-nat", "unsup", "unsup-nat", "unsupnat"} <= templates, templates
        for score in relation["scores"]:
            assert math.isfinite(score["log_likelihood"]) and score["log_likelihood"] < 0, score
            assert math.isfinite(score["rank"]) and score["rank"] >= 1, score


def test_train_in_a_separate_process_as_users_run_it(tmp_path, real_models, real_data):
    """BART, the family furthest from the embedded T5, through a real process (T5 is covered by tests/cli)."""
    name = "bart"
    out = tmp_path / "run"
    done = run_cli("train", "--model", str(real_models[name].folder), "--data", str(real_data), "--method", "lora",
                   "--steps", "6", "--eval-every", "3", "--lr", "0.01", "--batch-size", "8", "--out", str(out),
                   "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["event"] == "RunStarted" and events[-1]["event"] == "RunFinished"
    evals = [e["step"] for e in events if e["event"] == "EvalDone"]
    assert evals[:2] == [3, 6], evals  # then the best checkpoint is scored once more
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "finished" and all(math.isfinite(v) for v in result["metrics"].values())
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == str(real_models[name].folder), "model folders are stored absolute (resume anywhere)"
