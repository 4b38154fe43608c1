"""`analyze --data world-qa`: the table has each QA template's zero-shot accuracy, and the JSON report its fields."""

import json

from tests.helpers import run_cli


def test_analyze_on_qa_data_prints_accuracy(tmp_path):
    out = tmp_path / "qa.json"
    done = run_cli("analyze", "--data", "world-qa", "--strategy", "rules", "--n", "3", "--relations", "xWant",
                   "--templates", "qa-sup,qa-unsup", "--out", str(out), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0].split()
    assert header[:2] == ["relation", "questions"]
    assert "acc" in header and "qa-sup" in header
    assert "zero-shot accuracy" in done.stdout
    row = next(line for line in done.stdout.splitlines() if line.startswith("xWant"))
    assert "mapping" in row and "rules" in row
    report = json.loads(out.read_text())
    assert report["kind"] == "qa" and report["decisions"] == {"xWant": "mapping"}
    scores = report["relations"][0]["scores"]
    assert [s["template"] for s in scores] == ["qa-sup", "qa-unsup"]
    assert all(s["n"] == 3 and 0.0 <= s["accuracy"] <= 1.0 for s in scores)
    best = report["relations"][0]["best_template"]
    printed = [f"{s['accuracy']:.2f}" + ("*" if s["template"] == best else "") for s in scores]
    cells = row.split()
    assert cells[-3:] == ["3", *printed]  # n, then acc qa-sup and acc qa-unsup
