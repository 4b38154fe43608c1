"""The CLI as a user runs it: render on real files, and one clear line with exit code 2 on bad input."""

import json

import pandas as pd
import pytest

from tests.helpers import run_cli


def _json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_render_unsup_nat_and_sup_on_atomic(atomic_validation):
    done = run_cli("render", "--data", str(atomic_validation), "--template", "unsup-nat", "--rows", "3", "--json")
    assert done.returncode == 0, done.stderr
    rows = _json_lines(done.stdout)
    assert len(rows) == 3
    for row in rows:
        assert {"relation", "input", "source", "target", "references"} <= set(row)
        assert row["source"].startswith("xIntent: When ")
        assert row["source"].endswith(", what PersonX has in mind is <extra_id_0>")
        assert row["target"].startswith("<extra_id_0> ")
        assert row["target"].removeprefix("<extra_id_0> ") in row["references"]
    done = run_cli("render", "--data", str(atomic_validation), "--template", "sup", "--rows", "3", "--json")
    assert done.returncode == 0, done.stderr
    for row in _json_lines(done.stdout):
        assert row["source"].startswith("xIntent") and "<extra_id" not in row["target"]


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet"])
def test_render_other_formats(tmp_path, atomic_validation, suffix):
    frame = pd.read_csv(atomic_validation, sep="\t", quoting=3, keep_default_na=False)
    path = tmp_path / f"v.{suffix}"
    {
        "jsonl": lambda: frame.to_json(path, orient="records", lines=True),
        "csv": lambda: frame.to_csv(path, index=False),
        "parquet": lambda: frame.to_parquet(path, index=False),
    }[suffix]()
    done = run_cli("render", "--data", str(path), "--template", "unsup-nat", "--rows", "3", "--json")
    assert done.returncode == 0, done.stderr
    assert [r["input"] for r in _json_lines(done.stdout)] == [
        "PersonX accepts PersonY invitation",
        "PersonX accepts PersonY offer",
        "PersonX accepts PersonY's invitation",
    ]


def test_render_head_relation_tail_with_tokenizer(tmp_path, tiny_t5_tokenizer):
    tiny_t5_tokenizer.save_pretrained(tmp_path / "tok")
    (tmp_path / "tok" / "config.json").write_text('{"model_type": "t5"}')
    path = tmp_path / "kb.tsv"
    path.write_text("head\trelation\ttail\ncup\tAtLocation\tkitchen\n")
    done = run_cli(
        "render", "--data", str(path), "--template", "unsup-nat", "--json", "--tokenizer", str(tmp_path / "tok")
    )
    assert done.returncode == 0, done.stderr
    (row,) = _json_lines(done.stdout)
    assert row["source"] == "AtLocation: The place where you would find cup is <extra_id_0>"
    assert row["tokens"]["sentinels_single_token"] is True
    assert row["tokens"]["source"]["tokens"][-2:] == ["<extra_id_0>", "</s>"]


def _bad_template(tmp_path, body: str):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    return str(path)


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda t, v: ["--data", str(t / "missing.tsv"), "--template", "sup"], "data file not found"),
        (
            lambda t, v: [
                "--data",
                str((t / "e.csv").write_text("") and t / "e.csv" or t / "e.csv"),
                "--template",
                "sup",
            ],
            "data file is empty",
        ),
        (
            lambda t, v: ["--data", str((t / "c.csv").write_text("a,b\n1,2\n") and t / "c.csv"), "--template", "sup"],
            "no recognisable columns",
        ),
        (
            lambda t, v: [
                "--data",
                str(v),
                "--template",
                _bad_template(t, 'name="b"\nobjective="filling"\nsource="{input} {what}"\ntarget="{mask} {target}"\n'),
            ],
            r"line 3, field 'source', column 9: unknown slot \{what\}",
        ),
        (
            lambda t, v: ["--data", str(v), "--template", _bad_template(t, 'name="b"\nobjective="filling"\ncolor=1\n')],
            "unknown field 'color'",
        ),
        (
            lambda t, v: [
                "--data",
                str(v),
                "--template",
                _bad_template(
                    t, 'name="b"\nobjective="filling"\nsource="{input} {mask} {mask}"\ntarget="{mask} {target}"\n'
                ),
            ],
            "mismatched sentinels",
        ),
        (
            lambda t, v: ["--data", str(v), "--template", _bad_template(t, 'name="b"\nobjective=filling\n')],
            "line 2.*syntax error",
        ),
        (lambda t, v: ["--data", str(v), "--template", "no-such-template"], "unknown template 'no-such-template'"),
        (
            lambda t, v: ["--data", str(v), "--template", "sup", "--tokenizer", str(t / "nomodel")],
            "model folder not found",
        ),
    ],
)
def test_bad_input_gives_one_line_and_exit_code_2(tmp_path, atomic_validation, make_args, message):
    import re

    done = run_cli("render", *make_args(tmp_path, atomic_validation))
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mto-studio: error: "), done.stderr
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in done.stderr


def test_templates_lists_the_builtins():
    done = run_cli("templates")
    assert done.returncode == 0
    names = [line.split()[0] for line in done.stdout.splitlines() if line and not line.startswith(" ")]
    assert names[:6] == ["sup", "sup-nat", "unsup", "unsup-nat", "unsupnat", "mixed"]


def test_templates_warns_about_a_broken_file_on_stderr_and_lists_the_rest_on_stdout(tmp_path):
    (tmp_path / "broken.toml").write_text('name = "broken"\nsource = "{input"\n', encoding="utf-8")
    for args in ((), ("--json",)):
        done = run_cli("templates", "--folder", str(tmp_path), *args)
        assert done.returncode == 0, done.stderr
        (warning,) = done.stderr.strip().splitlines()
        assert warning.startswith("mto-studio: warning: skipped ") and "broken.toml" in warning, warning
        assert "warning" not in done.stdout and "broken" not in done.stdout
        if args:
            assert [row["name"] for row in _json_lines(done.stdout)][:2] == ["sup", "sup-nat"]


def test_render_keeps_as_many_tokens_as_training_does():
    from mto_studio.core.config import field_info
    from mto_studio.core.training.config import TrainConfig

    text = " ".join(run_cli("render", "--help").stdout.split())
    for name in ("max_source_length", "max_target_length"):
        assert " ".join(field_info(TrainConfig, name).describe().split()) in text, name
    done = run_cli("render", "--data", "world", "--template", "sup", "--max-source-length", "2")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "mto-studio: error: --max-source-length 2 is out of range — give source tokens kept (longer inputs are "
        "truncated) (default 128; 4 to 8192)"
    ]
