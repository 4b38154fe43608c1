"""prepare_environment inside a packaged bundle (sys.frozen): caches go to writable folders that outlive the
session; outside a bundle nothing about caches changes."""

import os
import sys

import pytest

from mto_studio.core import runtime


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    saved = dict(os.environ)
    for key in ("HF_HOME", "MPLCONFIGDIR", "XDG_CACHE_HOME", "MTO_CACHE_DIR"):
        os.environ.pop(key, None)
    os.environ["MTO_CACHE_DIR"] = str(tmp_path / "mto-cache")
    yield tmp_path
    os.environ.clear()
    os.environ.update(saved)


def test_bundle_keeps_the_usual_hf_cache_and_a_lasting_matplotlib_cache(clean_env, monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    os.environ["XDG_CACHE_HOME"] = str(clean_env / "xdg")
    os.environ["MPLCONFIGDIR"] = "/tmp/_MEI-deleted-at-exit"  # what PyInstaller's matplotlib hook sets
    runtime.prepare_environment()
    assert "HF_HOME" not in os.environ  # ~/.cache/huggingface (here $XDG_CACHE_HOME/huggingface) is writable
    assert (clean_env / "xdg" / "huggingface").is_dir()
    assert os.environ["MPLCONFIGDIR"] == str(clean_env / "mto-cache" / "matplotlib")


def test_bundle_moves_an_unwritable_hf_cache(clean_env, monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    blocker = clean_env / "not-a-folder"
    blocker.write_text("x")  # mkdir under a file fails even for root
    os.environ["XDG_CACHE_HOME"] = str(blocker)
    runtime.prepare_environment()
    assert os.environ["HF_HOME"] == str(clean_env / "mto-cache" / "huggingface")


def test_bundle_respects_an_explicit_hf_home(clean_env, monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    os.environ["HF_HOME"] = str(clean_env / "mine")
    runtime.prepare_environment()
    assert os.environ["HF_HOME"] == str(clean_env / "mine")


def test_cache_dir_falls_back_to_a_temp_folder(clean_env, monkeypatch):
    blocker = clean_env / "file"
    blocker.write_text("x")
    os.environ["MTO_CACHE_DIR"] = str(blocker / "cache")
    monkeypatch.setattr("platformdirs.user_cache_dir", lambda *a, **k: str(blocker / "user-cache"))
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(clean_env / "tmp"))
    folder = runtime.cache_dir()
    assert folder.parent == clean_env / "tmp" and folder.is_dir()


def test_outside_a_bundle_caches_are_left_alone(clean_env, monkeypatch):
    monkeypatch.delattr(sys, "frozen", raising=False)
    runtime.prepare_environment()
    assert "HF_HOME" not in os.environ and "MPLCONFIGDIR" not in os.environ
