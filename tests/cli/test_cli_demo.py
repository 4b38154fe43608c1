"""`mto-studio demo`: the prediction check names at least three trained templates, always the analyzer's
recommendation among them, and states the template count with ρ; the analyzer decides in its own strategy order and
the demo says who decided; a prompt-tuning ladder runs next to fine-tuning."""

import argparse
import json
import re

import pytest

from mto_studio.cli import demo_cmd
from mto_studio.core.analysis.config import AnalysisConfig
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def demo(tmp_path_factory, tiny_model_dir):
    """The smallest demo: k = 2, one seed, two steps per run; probe and rules only (the classifier's training is
    the slow part of the analysis; the default order is checked without running)."""
    out = tmp_path_factory.mktemp("demo")
    done = run_cli(
        "demo", "--quick", "--out", str(out), "--model", str(tiny_model_dir), "--steps", "2", "--seeds", "1",
        "--shots", "2", "--strategies", "probe,rules", timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, done.stdout


def test_the_printed_check_trains_three_or_more_templates_with_every_recommendation(demo):
    out, stdout = demo
    analysis = json.loads((out / "analysis.json").read_text())
    recommended = {r["relation"]: r["best_template"] for r in analysis["relations"]}
    trains = re.search(r"the prediction check trains (\d+) templates: (.+)", stdout)
    assert trains, stdout[-3000:]
    names = [t.strip() for t in trains.group(2).split(",")]
    assert int(trains.group(1)) == len(names) >= 3 and set(recommended.values()) <= set(names)
    rows = [line for line in stdout.splitlines() if line.startswith("| ") and line.count("|") == 8]
    table = {cells[0]: cells for cells in ([c.strip() for c in line.strip("|").split("|")] for line in rows)}
    for relation, template in recommended.items():
        cells = table[relation]
        listed = cells[2].split(", ")
        assert len(listed) >= 3 and template in listed and cells[4] == template, cells
        assert cells[6] != "not trained", cells
    assert re.search(r"among \d templates|among \d–\d templates|No hit can be counted", stdout)
    check = json.loads((out / "prediction.json").read_text())
    assert check["min_templates"] == 3 and all(row["n"] >= 3 for row in check["rows"])
    assert "mixed" not in {t for row in check["rows"] for t in row["templates"]}  # only concrete, scored templates


def test_the_demo_says_who_decided_and_runs_a_prompt_tuning_ladder(demo):
    out, stdout = demo
    analysis = json.loads((out / "analysis.json").read_text())
    assert analysis["config"]["strategies"] == ["probe", "rules"]
    for relation in analysis["relations"]:
        assert re.search(rf"   {relation['relation']}: (filling|mapping|inconclusive|undecided) \(decided by ", stdout)
    assert "3/4 prompt-tuning ladder vs full data: prompt-sup, prompt-unsup-nat" in stdout
    prompt_runs = json.loads((out / "prompt" / "experiment.json").read_text())["config"]
    assert prompt_runs["methods"] == ["prompt"] and prompt_runs["templates"][:2] == ["prompt-sup", "prompt-unsup-nat"]
    report = (out / "report.md").read_text()
    sections = ("## 1. Objective analysis", "## 2. Few-shot ladder", "## 2b. Prompt tuning", "## 3. Did the zero-shot",
                "Total wall time")  # fmt: skip
    order = [report.find(s) for s in sections]
    assert -1 not in order and order == sorted(order), order
    assert "| decision | decided by |" in report and "(prompt/ladder.png)" in report
    assert "Agreement with the construction:" in report and "(experiment/ladder" in report
    assert (out / "experiment" / "ladder.png").stat().st_size > 1000


def test_the_demo_analyses_in_the_analyzers_own_order_by_default():
    args = argparse.Namespace(model="mto-tiny", strategies=None)
    plan = demo_cmd.PLANS[True]
    assert demo_cmd.analysis_config(args, plan).strategies == AnalysisConfig().strategies
    bad = run_cli("demo", "--out", "unused", "--strategies", "probe,votes")
    assert bad.returncode == 2 and "unknown strategy 'votes'" in bad.stderr


def test_the_prompt_ladder_takes_prompt_mixed_once_it_is_built_in(monkeypatch, tmp_path):
    from mto_studio.core.templates import library
    from mto_studio.core.templates.fileformat import load_template

    others = tuple(t for t in library._builtin_templates() if t.name != "prompt-mixed")
    monkeypatch.setattr(library, "_builtin_templates", lambda: others)
    assert demo_cmd.prompt_templates() == ["prompt-sup", "prompt-unsup-nat"]
    extra = tmp_path / "prompt-mixed.toml"
    extra.write_text(
        'name = "prompt-mixed"\ndescription = "test"\nobjective = "mixed"\n'
        'filling = "prompt-unsup-nat"\nmapping = "prompt-sup"\n'
    )
    monkeypatch.setattr(library, "_builtin_templates", lambda: (*others, load_template(extra, builtin=True)))
    assert demo_cmd.prompt_templates() == ["prompt-sup", "prompt-unsup-nat", "prompt-mixed"]
