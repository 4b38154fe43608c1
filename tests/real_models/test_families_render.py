"""Real architectures (T5 v1.0, T5 v1.1, mT5, BART): the family registry detects each one from its saved folder, and
`render` frames and counts tokens the way the model's own tokenizer does (BART's ``<s>`` included)."""

from __future__ import annotations

import json

import pytest

from mto_studio.cli import main
from tests.helpers import run_cli


def _render(capsys, model, data, template: str, rows: int = 3) -> list[dict]:
    rc = main(["render", "--data", str(data), "--template", template, "--rows", str(rows), "--json",
               "--tokenizer", str(model.folder)])  # fmt: skip
    out = capsys.readouterr()
    assert rc == 0, out.err
    return [json.loads(line) for line in out.out.splitlines() if line.strip()]


def test_the_registry_detects_each_family_from_config_and_folder(real_model):
    from transformers import AutoConfig

    from mto_studio.core.models.family import BY_KEY, family_of, family_of_folder, family_of_ref

    expected = BY_KEY[real_model.family]
    config = AutoConfig.from_pretrained(real_model.folder)
    assert family_of_folder(real_model.folder) is expected
    assert family_of_ref(str(real_model.folder)) is expected
    assert family_of(config, real_model.tokenizer(), real_model.folder) is expected
    assert expected.bos is real_model.bos and expected.denoising is (real_model.name == "bart")


def test_flan_t5_is_told_from_t5_v11_by_its_name(real_models):
    """Flan-T5 and T5 v1.1 share one config shape: only the name separates them."""
    from transformers import AutoConfig

    from mto_studio.core.models.family import FLAN_T5, T5_V11, family_of

    config = AutoConfig.from_pretrained(real_models["t5-v1.1"].folder)
    assert family_of(config, name="models/flan-t5-small") is FLAN_T5
    assert family_of(config, name="models/t5-v1_1-small") is T5_V11
    assert family_of(config, name=real_models["t5-v1.1"].folder) is T5_V11


@pytest.mark.parametrize("template", ["sup", "unsup-nat"])
def test_render_counts_the_tokens_the_tokenizer_makes(capsys, real_model, real_data, template):
    tokenizer = real_model.tokenizer()
    rendered = _render(capsys, real_model, real_data, template)
    assert len(rendered) >= 3
    for row in rendered:
        for side in ("source", "target"):
            text, counted = row[side], row["tokens"][side]
            ids = tokenizer(text)["input_ids"]
            assert counted["count"] == len(ids), (real_model.name, side, text, counted["tokens"], ids)
            assert counted["truncated"] is False and counted["kept"] == counted["count"]
        if real_model.bos:
            assert row["tokens"]["source"]["tokens"][0] == tokenizer.bos_token, row["tokens"]["source"]["tokens"]


def test_render_frames_filling_as_the_family_was_pretrained(capsys, real_model, real_data):
    """T5 families: sentinel in the source, the target is the sentinel and the span. BART: ``<mask>`` in the source,
    the target is the whole text rebuilt (no mask, the input and the answer in it)."""
    for row in _render(capsys, real_model, real_data, "unsup-nat"):
        answer = row["references"][0]
        if real_model.name == "bart":
            assert "<mask>" in row["source"] and "<extra_id_0>" not in row["source"]
            assert "<mask>" not in row["target"], row
            assert row["input"] in row["target"] and row["target"].rstrip(". ").endswith(answer), row
        else:
            assert "<extra_id_0>" in row["source"]
            assert row["target"] == f"<extra_id_0> {answer}", row


def test_render_through_the_real_cli_process(real_models, real_data):
    """BART (the family furthest from the embedded T5) in a separate process as users run it; the in-process
    tests above cover every family, tests/cli the T5 path."""
    for name in ["bart"]:
        done = run_cli("render", "--data", str(real_data), "--template", "sup", "--rows", "1", "--json",
                       "--tokenizer", str(real_models[name].folder))  # fmt: skip
        assert done.returncode == 0, (name, done.stderr)
        row = json.loads(done.stdout.splitlines()[0])
        ids = real_models[name].tokenizer()(row["source"])["input_ids"]
        assert row["tokens"]["source"]["count"] == len(ids), (name, row["tokens"]["source"], ids)
        assert "Traceback" not in done.stderr
