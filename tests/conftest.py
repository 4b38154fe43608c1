"""Test-wide settings: offline, headless Qt, one passive torch thread; shared fixtures."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ.setdefault("MTO_THREADS", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ATOMIC = REPO.parent / "shared" / "data" / "atomic2020_sample"


@pytest.fixture(scope="session")
def atomic_dir() -> Path:
    assert (ATOMIC / "validation.tsv").is_file(), f"the ATOMIC sample is expected at {ATOMIC}"
    return ATOMIC


@pytest.fixture(scope="session")
def atomic_validation(atomic_dir) -> Path:
    return atomic_dir / "validation.tsv"


@pytest.fixture(scope="session")
def tiny_t5_tokenizer(tmp_path_factory):
    """A small T5 tokenizer (Unigram, 100 sentinels) trained here in milliseconds, saved in HF format."""
    from tests.helpers import build_tiny_tokenizer

    folder = tmp_path_factory.mktemp("tok")
    return build_tiny_tokenizer(folder)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random T5 (d_model 32, 1+1 layers) with a T5 tokenizer, built once per session."""
    from tests.helpers import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def small_world_tsv(tmp_path_factory) -> Path:
    """A small slice of the built-in world: 2 relations (one Filling, one Mapping) × 14 heads."""
    from mto_studio.core.world import build_world

    world = build_world()
    lines = ["head\trelation\ttail"]
    for relation in ("AtLocation", "xIntent"):
        facts = [f for f in world.facts if f.relation == relation][:14]
        lines += [f"{f.head}\t{relation}\t{t}" for f in facts for t in f.tails[:1]]
    path = tmp_path_factory.mktemp("small-world") / "small.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path
