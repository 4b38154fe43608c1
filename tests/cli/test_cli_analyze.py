"""`analyze` from the command line: flags built from AnalysisConfig's fields, one line and exit 2 for bad values."""

import json

from tests.helpers import run_cli


def test_analyze_takes_its_flags_from_the_config_fields(tmp_path):
    from mto_studio.core.analysis.analyze import AnalysisConfig
    from mto_studio.core.config import field_info

    text = " ".join(run_cli("analyze", "--help").stdout.split())
    for name in ("n", "seed", "threshold", "distractors"):
        assert " ".join(field_info(AnalysisConfig, name).describe().split()) in text, name
    done = run_cli("analyze", "--strategy", "rules", "--n", "3", "--distractors", "0", "--relations",
                   "AtLocation,xIntent", "--templates", "sup,unsup-nat", "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["config"]["n"], report["config"]["distractors"], report["config"]["seed"]) == (3, 0, 0)
    assert report["decisions"] == {"AtLocation": "filling", "xIntent": "mapping"}


def test_analyze_bad_value_is_one_line_exit_2(tmp_path):
    done = run_cli("analyze", "--n", "0", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "mto-studio: error: n = 0 is below 1 — examples per relation for the probe and the ranking"
    ]
