"""Finding models (issue 14): hub ids from the local Hugging Face cache offline, "folder not found" vs. "not cached
and offline", the cached encoder-decoders listed, and model folders stored absolute so a run resumes from anywhere."""

import json
import os
import shutil
from pathlib import Path

import pytest

from mto_studio.core.errors import ModelError
from mto_studio.core.models.cache import cached_models, cached_snapshot, hub_cache_dir
from mto_studio.core.models.loading import load_seq2seq, resolve_model_ref
from tests.helpers import run_cli

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _cache_repo(cache: Path, repo_id: str, source: Path, *, kind: str = "models") -> Path:
    """Put ``source``'s files into ``cache`` as huggingface_hub does: blobs, a snapshot of links, refs/main."""
    repo = cache / f"{kind}--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    for number, file in enumerate(sorted(p for p in source.iterdir() if p.is_file())):
        blob = repo / "blobs" / f"{number:040x}"
        shutil.copyfile(file, blob)
        (snapshot / file.name).symlink_to(os.path.relpath(blob, snapshot))
    return snapshot


@pytest.fixture
def hf_cache(tmp_path, monkeypatch, tiny_model_dir) -> Path:
    """A Hugging Face cache in tmp_path holding the tiny T5 as org/tiny-t5 and tiny-t5, a decoder-only model and a
    data set; HF_HUB_CACHE points at it and MTO Studio is offline."""
    cache = tmp_path / "hf" / "hub"
    _cache_repo(cache, "org/tiny-t5", tiny_model_dir)
    _cache_repo(cache, "tiny-t5", tiny_model_dir)
    gpt = tmp_path / "gpt"
    gpt.mkdir()
    (gpt / "config.json").write_text('{"model_type": "gpt2"}')
    _cache_repo(cache, "org/decoder-only", gpt)
    _cache_repo(cache, "org/some-data", gpt, kind="datasets")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def test_a_cached_hub_id_resolves_offline_to_its_snapshot_and_loads(hf_cache):
    snapshot = hf_cache / "models--org--tiny-t5" / "snapshots" / COMMIT
    assert resolve_model_ref("org/tiny-t5") == str(snapshot)
    assert resolve_model_ref("tiny-t5") == str(hf_cache / "models--tiny-t5" / "snapshots" / COMMIT)
    model, tokenizer = load_seq2seq("org/tiny-t5")
    assert model.config.model_type == "t5" and len(tokenizer.get_vocab()) > 16


def test_hf_home_is_honoured(hf_cache, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(hf_cache.parent))
    assert hub_cache_dir() == hf_cache
    assert cached_snapshot("org/tiny-t5") == hf_cache / "models--org--tiny-t5" / "snapshots" / COMMIT


def test_a_snapshot_without_refs_main_is_still_found(hf_cache):
    (hf_cache / "models--org--tiny-t5" / "refs" / "main").unlink()
    assert resolve_model_ref("org/tiny-t5").endswith(COMMIT)


@pytest.mark.parametrize("ref", ["models/t5-smal", "./t5-smal", "models/sub/t5-smal", "~/no-such-model-folder"])
def test_a_mistyped_folder_is_not_found_not_a_hub_problem(hf_cache, tmp_path, monkeypatch, ref):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    with pytest.raises(ModelError) as caught:
        resolve_model_ref(ref)
    text = str(caught.value)
    assert text.startswith(f"model folder not found: {ref}") and str(tmp_path) in text
    assert "cache" not in text and "network" not in text


def test_an_uncached_hub_id_offline_names_the_cache_and_the_fix(hf_cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError) as caught:
        resolve_model_ref("org/not-there")
    text = str(caught.value)
    assert f"'org/not-there' is not in the local Hugging Face cache ({hf_cache}) and is not a folder here" in text
    assert f"({tmp_path}); MTO Studio is offline" in text
    assert "MTO_ONLINE=1" in text and "network connection" in text and "folder not found" not in text
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # online: the id goes to the hub
    assert resolve_model_ref("org/not-there") == "org/not-there"


def test_a_mistyped_folder_without_its_parent_is_reported_as_both_readings(hf_cache, tmp_path, monkeypatch):
    """``models/t5-smal`` with no ``models/`` folder reads as a folder or as a hub id: offline, the message says it
    is neither, naming the working folder and the cache, and gives both fixes."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError) as caught:
        resolve_model_ref("models/t5-smal")
    text = str(caught.value)
    assert f"'models/t5-smal' is not in the local Hugging Face cache ({hf_cache})" in text
    assert f"is not a folder here ({tmp_path})" in text
    assert "check the path" in text and "hf download models/t5-smal" in text
    shutil.copytree(hf_cache / "models--org--tiny-t5" / "snapshots" / COMMIT, tmp_path / "models" / "t5-small")
    assert resolve_model_ref("models/t5-small") == "models/t5-small", "the folder, once there, is used"
    assert resolve_model_ref("org/tiny-t5").endswith(COMMIT), "a cached id still resolves from any folder"


def test_cached_models_lists_the_encoder_decoders(hf_cache):
    found = {m.repo_id: m for m in cached_models()}
    assert set(found) == {"org/tiny-t5", "tiny-t5"}, "the decoder-only model and the data set are left out"
    tiny = found["org/tiny-t5"]
    assert tiny.model_type == "t5" and tiny.folder == hf_cache / "models--org--tiny-t5" / "snapshots" / COMMIT
    weights = (tiny.folder / "model.safetensors").stat().st_size
    assert weights < tiny.size_bytes < weights + 2_000_000


def test_cached_models_without_a_cache_is_empty(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "nothing-here"))
    assert cached_models() == []


def test_sweep_stores_the_model_folder_absolute(tmp_path, monkeypatch, tiny_model_dir):
    from mto_studio.cli import build_parser
    from mto_studio.cli.sweep_cmd import experiment_from_args

    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_model_dir, tmp_path / "models" / "tiny")
    args = build_parser().parse_args(["sweep", "--model", "models/tiny", "--out", "exp"])
    assert experiment_from_args(args).model == str(tmp_path / "models" / "tiny")
    args = build_parser().parse_args(["sweep", "--model", "org/tiny-t5", "--out", "exp"])
    assert experiment_from_args(args).model == "org/tiny-t5", "hub ids stay ids"


def test_train_stores_the_model_folder_absolute_and_resumes_from_another_folder(
    tmp_path, tiny_model_dir, small_world_tsv
):
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    shutil.copytree(tiny_model_dir, here / "models" / "tiny")
    elsewhere.mkdir()
    run = tmp_path / "run"
    common = ["--data", str(small_world_tsv), "--steps", "4", "--eval-every", "4", "--shots", "2", "--json"]
    done = run_cli("train", "--model", "models/tiny", *common, "--out", str(run), cwd=here)
    assert done.returncode == 0, done.stderr
    saved = json.loads((run / "config.json").read_text())
    assert saved["model"] == str(here / "models" / "tiny")
    (run / "result.json").unlink()  # as if the process had died before the run ended: resumable
    again = run_cli("train", "--resume", str(run), "--json", cwd=elsewhere)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.splitlines()[-1])["event"] == "RunFinished"
