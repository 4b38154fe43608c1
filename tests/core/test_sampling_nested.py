"""Faithful sampling: k-shot training rows (head + chosen target) nested across k, the rows saved in split.json, and
evaluation heads capped at 3 references by default (the method's protocol), stated in reports."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from mto_studio.core.data.sampling import rows_from_split
from mto_studio.core.store.run_folder import RunFolder
from mto_studio.core.templates import T5_STYLE, TemplateLibrary
from mto_studio.core.training.config import TrainConfig
from mto_studio.core.training.data import prepare_run_data
from mto_studio.core.training.run_setup import write_static_files

RELATIONS = ("xIntent", "AtLocation")


def _refs(relation: str, i: int) -> list[str]:
    """1 to 6 references: every head i with i % 6 >= 3 has 4-6 of them."""
    word = "to reach" if relation == "xIntent" else "in the"
    return [f"{word} place {i} {j}" for j in range(i % 6 + 1)]


def _write(path: Path, heads: range) -> Path:
    lines = ["head\trelation\ttail"]
    for relation in RELATIONS:
        for i in heads:
            lines += [f"PersonX visits thing {relation[:2]} {i}\t{relation}\t{ref}" for ref in _refs(relation, i)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def multi_ref(tmp_path_factory) -> dict[str, Path]:
    """2 relations × 60 training heads (1-6 references each), 10 validation and 12 test heads of each relation."""
    folder = tmp_path_factory.mktemp("multi-ref")
    return {
        "train": _write(folder / "train.tsv", range(60)),
        "validation": _write(folder / "validation.tsv", range(100, 110)),
        "test": _write(folder / "test.tsv", range(200, 212)),
    }


def _prepare(files, tokenizer, **changes):
    cfg = TrainConfig(
        data=str(files["train"]), validation_data=str(files["validation"]), test_data=str(files["test"]), **changes
    )
    library = TemplateLibrary()
    template = library.get(cfg.template)
    return cfg, library, template, prepare_run_data(cfg, library, template, tokenizer, T5_STYLE)


def _rows(run) -> set[tuple[str, str, str]]:
    return {(r.relation, r.input, r.target) for r in run.train_rows}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_training_rows_are_nested_across_k(multi_ref, tiny_t5_tokenizer, seed):
    rows = {k: _rows(_prepare(multi_ref, tiny_t5_tokenizer, shots=k, seed=seed)[3]) for k in (8, 32, None)}
    assert len(rows[8]) == 16 and len(rows[32]) == 64 and len(rows[None]) == 120  # one target per head
    assert rows[8] <= rows[32] <= rows[None], (rows[8] - rows[32], rows[32] - rows[None])
    # the choice is real: multi-reference heads do not all train on their first reference
    first = {(r, f"PersonX visits thing {r[:2]} {i}", _refs(r, i)[0]) for r in RELATIONS for i in range(60)}
    assert rows[None] - first


def test_target_choice_depends_on_the_seed_not_on_the_row_order(multi_ref, tiny_t5_tokenizer, tmp_path):
    lines = multi_ref["train"].read_text().splitlines()
    shuffled = tmp_path / "train.tsv"
    shuffled.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    a = _rows(_prepare(multi_ref, tiny_t5_tokenizer, seed=5)[3])
    b = _rows(_prepare({**multi_ref, "train": shuffled}, tiny_t5_tokenizer, seed=5)[3])
    assert a == b
    assert a != _rows(_prepare(multi_ref, tiny_t5_tokenizer, seed=6)[3])


def _stub_setup(cfg, template, run, folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    return SimpleNamespace(
        cfg=cfg, dir=folder, model_ref="tiny", template_text="", template=template, data=run, device="cpu", dist=None
    )


def test_split_json_holds_the_rows_and_reproduces_the_training_set(multi_ref, tiny_t5_tokenizer, tmp_path):
    cfg, library, template, run = _prepare(multi_ref, tiny_t5_tokenizer, shots=8, seed=3, targets_per_head=2)
    write_static_files(_stub_setup(cfg, template, run, tmp_path / "run"))
    split = RunFolder(tmp_path / "run").split()
    rows = rows_from_split(split)
    assert rows == run.train_rows and len(rows) == len(run.train) > 16  # 2 targets for multi-reference heads
    # the rows alone rebuild what was trained on, example by example
    rebuilt = [library.render(template, r.relation, r.input, r.target, style=T5_STYLE) for r in rows]
    assert [(x.source, x.target) for x in rebuilt] == [(x.source, x.target) for x in run.train_rendered]
    assert split["max_references"] == 3 and split["targets_per_head"] == 2
    test_rows = {r["head_id"]: r["references"] for r in split["test_rows"]}
    assert test_rows == {h.id: list(h.references) for h in run.test} and len(test_rows) == 24
    assert len(split["validation_rows"]) == 20
    assert split["test_head_ids"] == [h.id for h in run.test]  # what older readers look at stays


def test_an_old_split_json_without_rows_still_reads(tmp_path):
    (tmp_path / "split.json").write_text(json.dumps({"sample": {"k": "8", "seed": 0, "head_ids": ["a"]}}))
    split = RunFolder(tmp_path).split()
    assert split["sample"]["head_ids"] == ["a"] and rows_from_split(split) is None


@pytest.mark.parametrize(("cap", "kept"), [(None, 3), (0, 6), (1, 1), (4, 4)])
def test_evaluation_heads_keep_at_most_max_references(multi_ref, tiny_t5_tokenizer, cap, kept):
    changes = {} if cap is None else {"max_references": cap}
    _, _, _, run = _prepare(multi_ref, tiny_t5_tokenizer, shots=8, targets_per_head=0, **changes)
    for heads, first in ((run.validation, 100), (run.test, 200)):
        assert max(len(h.references) for h in heads) == kept
        for head in heads:
            i = int(head.input.rsplit(" ", 1)[1])
            assert list(head.references) == _refs(head.relation, i)[:kept] or cap == 0  # the first ones, file order
            assert i >= first
    over = sum(len(_refs(r, i)) > kept for r in RELATIONS for i in [*range(100, 110), *range(200, 212)])
    assert run.references_capped == (0 if cap == 0 else over) and run.max_references == (3 if cap is None else cap)
    # training heads are not capped: targets_per_head = 0 trains on all 6 references of a 6-reference head
    assert max(sum(1 for r in run.train_rows if r.input == row.input) for row in run.train_rows) == 6


def test_a_run_saves_its_rows_scores_on_capped_references_and_the_report_says_so(multi_ref, tiny_model_dir, tmp_path):
    from mto_studio.core.training.compare_report import runs_table
    from mto_studio.core.training.loop import train
    from mto_studio.core.training.report import write_report
    from tests.core.test_compare_report import run_row

    cfg = TrainConfig(
        model=str(tiny_model_dir),
        data=str(multi_ref["train"]),
        validation_data=str(multi_ref["validation"]),
        test_data=str(multi_ref["test"]),
        shots=8,
        steps=2,
        batch_size=8,
        eval_every=0,
        threads=1,
        save_model=False,
    )
    for _ in train(cfg, tmp_path / "run"):
        pass
    folder = RunFolder(tmp_path / "run")
    assert folder.result()["status"] == "finished"
    scored = folder.result()["scored"]  # result.json says over how many references a head was scored
    assert scored["max_references"] == 3 and "best match over up to 3 of a head's references" in scored["references"]
    assert len(rows_from_split(folder.split()) or []) == 16
    predictions = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert predictions and max(len(p["references"]) for p in predictions) == 3
    report = write_report(tmp_path / "report", "r", ["body"], run_folders=[tmp_path / "run"]).read_text()
    assert "(test, 24 heads, ≤3 references each)" in report
    table = runs_table([run_row(1, tmp_path / "run", "sup", "test", "Test ROUGE-L", 0.5, max_references=3)])
    assert "best match over ≤3 references each" in table
    old = runs_table([run_row(1, tmp_path / "run", "sup", "test", "Test ROUGE-L", 0.5)])  # before the cap existed
    assert "best match over all references" in old


def test_the_compare_report_names_the_runs_of_each_reference_cap(tmp_path):
    from mto_studio.core.training.compare_report import runs_table
    from tests.core.test_compare_report import run_row

    table = runs_table(
        [
            run_row(1, tmp_path / "a", "sup", "test", "Test ROUGE-L", 0.5, max_references=3),
            run_row(2, tmp_path / "b", "sup", "test", "Test ROUGE-L", 0.6, max_references=0),
        ]
    )
    assert "differ between runs (≤3 references each: run 1; all references: run 2)" in table
