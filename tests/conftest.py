"""Test-wide settings: offline, headless Qt, one passive torch thread; shared fixtures."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ.setdefault("MTO_THREADS", "1")
# Training runs in the calling thread unless a test asks for a backend: a spawned worker spends seconds importing
# torch. The tests of the process and Ray backends (marker `distributed`) pass theirs explicitly.
os.environ.setdefault("MTO_BACKEND", "thread")
# The analyzer's classifier cache (and any other user cache) goes to a folder of this test session, never ~/.cache.
os.environ["MTO_CACHE_DIR"] = tempfile.mkdtemp(prefix="mto-test-cache-")
atexit.register(shutil.rmtree, os.environ["MTO_CACHE_DIR"], True)

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: The shipped example (real ATOMIC-2020 xIntent rows, CC BY 4.0): the tests' real-world data lives in the repo.
ATOMIC = REPO / "resources" / "examples" / "atomic2020-xintent"


#: the folder a team keeps beside its checkouts: the one sibling the guard watches when it cannot watch them all
TEAM_FOLDER = "shared"


def _outside_reads_guard():
    """Fail the session if anything reads a sibling of the repository (a team's shared folder): a clone must pass
    with nothing beside it. An audit hook sees every open() in this process, including the product's."""
    import sys
    import tempfile

    parent = REPO.parent  # guard: the one place that names what is outside
    allowed = [REPO, Path(tempfile.gettempdir()).resolve(), Path(sys.prefix).resolve(), Path.home()]
    homes = (Path(tempfile.gettempdir()).resolve(), Path.home())  # where tests and libraries legitimately write
    if any(parent == a or parent in a.parents for a in homes):
        # the clone sits right in /, $HOME or a temp folder: siblings are everything; watch the shared folder
        allowed, watched = [], [parent.joinpath(TEAM_FOLDER)]  # guard
    else:
        watched = [parent]
        # a folder that holds the clone's parent (say /tmp for a clone in /tmp/x/repo) must not excuse its siblings
        allowed = [a for a in allowed if not (a == parent or a in parent.parents)]
    seen: list[str] = []

    def hook(event, args):
        if event != "open" or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        path = os.path.abspath(os.fsdecode(args[0]))
        for root in watched:
            if path.startswith(str(root) + os.sep) and not any(path.startswith(str(a) + os.sep) for a in allowed):
                seen.append(path)

    sys.addaudithook(hook)
    return seen, watched


OUTSIDE_READS, OUTSIDE_WATCHED = _outside_reads_guard()


def pytest_sessionfinish(session, exitstatus):
    if OUTSIDE_READS:
        session.exitstatus = 1
        print(
            f"\nFAILED: the test session read {len(OUTSIDE_READS)} file(s) outside the repository, e.g. "
            f"{OUTSIDE_READS[0]}; ship what tests need inside the repository"
        )


@pytest.fixture(scope="session")
def atomic_dir() -> Path:
    assert (ATOMIC / "validation.tsv").is_file(), f"the shipped ATOMIC example is missing at {ATOMIC}"
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
    """A small slice of the built-in world: 2 relations (one Filling, one Mapping) × 14 heads. Beside it,
    ``small-test.tsv`` holds 6 other heads of each relation (no head in both): its test split."""
    from mto_studio.core.world import build_world

    world = build_world()
    folder = tmp_path_factory.mktemp("small-world")
    for name, heads in (("small.tsv", slice(0, 14)), ("small-test.tsv", slice(14, 20))):
        lines = ["head\trelation\ttail"]
        for relation in ("AtLocation", "xIntent"):
            facts = [f for f in world.facts if f.relation == relation][heads]
            lines += [f"{f.head}\t{relation}\t{t}" for f in facts for t in f.tails[:1]]
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder / "small.tsv"
