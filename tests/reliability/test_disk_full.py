"""A full disk: wherever a run writes (checkpoint, weights, metrics.jsonl, predictions, result.json, the run store,
the experiment report), whatever the library raised, the run ends `failed` with "disk full while writing X; the
checkpoint of step N is intact; free about M MB and resume", the reason stored where space allows, no temporary
checkpoint folder left; a resume once there is room reaches exactly what an uninterrupted run reaches. Before a run,
too little free space is one line and exit 2. A real small tmpfs is used when this runs as root; everywhere the
error is injected at the write site, as the library raises it."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from mto_studio.core.fsio import DiskFullError, NotEnoughSpaceError, is_disk_full
from mto_studio.core.jobs.events import RunFailed, RunFinished, RunStarted, StepLogged
from mto_studio.core.jobs.status import RunStatus
from mto_studio.core.store import RunStore
from mto_studio.core.store.run_folder import RunFolder
from mto_studio.core.training.config import TrainConfig
from mto_studio.core.training.loop import train
from tests.helpers import tiny_recipe

REPO = Path(__file__).resolve().parents[2]
ENOSPC = "No space left on device"


def _config(model_dir: Path, data: Path, **changes) -> TrainConfig:
    """30 steps, evaluations (and so checkpoints) at steps 10 and 20, a test split scored at the end."""
    base = dict(model=str(model_dir), data=str(data), test_data=str(data.with_name("small-test.tsv")),
                template="unsup-nat", steps=30, batch_size=8, lr=3e-3, warmup_steps=5, eval_every=10,
                validation_heads=2, threads=1)  # fmt: skip
    base.update(changes)
    return TrainConfig(**base)


def _run(cfg: TrainConfig | None, folder: Path, *, resume: bool = False, stop_at: int | None = None) -> list:
    """Run to the end (or send Stop at the StepLogged of step ``stop_at``); returns the events."""
    from mto_studio.core.jobs.events import Stop

    events, command, gen = [], None, train(cfg, folder, resume=resume)
    while True:
        try:
            event = gen.send(command)
        except StopIteration:
            return events
        events.append(event)
        command = Stop() if isinstance(event, StepLogged) and event.step == stop_at else None


def outcome(run_dir: Path) -> dict:
    """What a run reached, without wall times: result, curve, evaluations, predictions, weights."""
    result = json.loads((run_dir / "result.json").read_text())
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    keys = ("status", "step", "metrics", "per_relation", "best_step", "best_validation_rougeL", "final_loss")
    return {
        "result": {k: result[k] for k in keys},
        "curve": {e["step"]: e["loss"] for e in events if e["event"] == "StepLogged"},
        "evaluations": {(e["step"], e["split"], e["final"]): e["metrics"] for e in events if e["event"] == "EvalDone"},
        "predictions": (run_dir / "predictions.jsonl").read_text(),
        "weights": {p.name: p.read_bytes() for p in run_dir.glob("model/*.safetensors")},
    }


def leftovers(run_dir: Path) -> list[Path]:
    return list(run_dir.glob("checkpoints/.tmp-step-*")) + list(run_dir.glob(".*.tmp"))


@pytest.fixture(scope="module")
def straight(tmp_path_factory, tiny_model_dir, small_world_tsv) -> dict:
    folder = tmp_path_factory.mktemp("straight") / "run"
    events = _run(_config(tiny_model_dir, small_world_tsv), folder)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "finished"
    return outcome(folder)


def _enospc(message: str = "") -> Exception:
    """What torch.save raises on a full disk: a RuntimeError whose context is the OSError (its message alone does
    not say so), or, with ``message``, a library's error that only words it."""
    if message:
        return RuntimeError(message)
    try:
        raise OSError(errno.ENOSPC, ENOSPC)
    except OSError:
        try:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534") from None
        except RuntimeError as exc:
            exc.__context__ = OSError(errno.ENOSPC, ENOSPC)
            return exc


class FullOs:
    """Stands in for the ``os`` module of one product module: ``name`` raises ENOSPC the first ``times`` calls
    that ``when(*args)`` picks; everything else is the real ``os``."""

    def __init__(self, name: str, when, times: int = 1) -> None:
        self.name, self.when, self.left = name, when, times

    def __getattr__(self, attr: str):
        real = getattr(os, attr)
        if attr != self.name:
            return real

        def call(*args, **kwargs):
            if self.left and self.when(*args):
                self.left -= 1
                raise OSError(errno.ENOSPC, ENOSPC)
            return real(*args, **kwargs)

        return call


# --- recognising a full disk ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("exc", "full"),
    [
        (OSError(errno.ENOSPC, ENOSPC), True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
        (_enospc(), True),  # torch.save: the message says nothing, the context does
        (RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"), True),
        (sqlite3.OperationalError("database or disk is full"), True),
        (DiskFullError("x"), True),
        (OSError(errno.EACCES, "Permission denied"), False),
        (RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534"), False),
        (ValueError("bad value"), False),
    ],
)
def test_a_full_disk_is_recognised_whatever_the_library_raised(exc, full):
    assert is_disk_full(exc) is full


# --- each write site of a run ----------------------------------------------------------------------------------------
def _torch_save_fails_at(call: int):
    import torch

    real, calls = torch.save, []

    def save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise _enospc()
        return real(obj, f, *args, **kwargs)

    return torch, "save", save


def _safetensors_fails_at(call: int):
    import safetensors.torch
    from safetensors import SafetensorError

    real, calls = safetensors.torch.save_file, []

    def save_file(tensors, path, *args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            Path(path).write_bytes(b"torn")  # what a real full disk leaves: part of the file
            raise SafetensorError(f"Error while serializing: I/O error: {ENOSPC} (os error 28)")
        return real(tensors, path, *args, **kwargs)

    return safetensors.torch, "save_file", save_file


SITES = {
    # site: (what the reason names, the intact checkpoint's step)
    "checkpoint optimizer (torch.save)": ("the checkpoint of step 20", 10),
    "checkpoint weights (safetensors)": ("the checkpoint of step 10", None),
    "metrics.jsonl": ("metrics.jsonl", 10),
    "predictions.jsonl": ("predictions.jsonl", 20),
    "trained weights": ("the trained weights", 20),
    "result.json": ("result.json", 20),
    "config.json": ("config.json", None),
}


def _inject(site: str, monkeypatch) -> None:
    from mto_studio.core import fsio
    from mto_studio.core.store import run_folder
    from mto_studio.core.training import methods

    if site.startswith("checkpoint optimizer"):
        module, name, fake = _torch_save_fails_at(2)
        monkeypatch.setattr(module, name, fake)
    elif site.startswith("checkpoint weights"):
        module, name, fake = _safetensors_fails_at(1)
        monkeypatch.setattr(module, name, fake)
    elif site == "metrics.jsonl":  # the StepLogged line of step 15: half of it reaches the disk

        def torn(fd, data) -> bool:
            if b'"step": 15,' not in bytes(data):
                return False
            os.write(fd, bytes(data)[: len(data) // 2])
            return True

        monkeypatch.setattr(run_folder, "os", FullOs("write", torn))
    elif site == "trained weights":

        def save(self, folder, base_model, tokenizer):
            (folder / "model").mkdir()
            (folder / "model" / "model.safetensors").write_bytes(b"torn")
            raise _enospc(f"Error while serializing: I/O error: {ENOSPC} (os error 28)")

        monkeypatch.setattr(methods.MethodRun, "save", save)
    else:  # an atomic write: predictions.jsonl, result.json (every try: the failure's own too), config.json
        times = 99 if site == "result.json" else 1
        monkeypatch.setattr(fsio, "os", FullOs("replace", lambda src, dst: Path(dst).name == site, times))


@pytest.mark.parametrize("site", list(SITES))
def test_a_full_disk_fails_the_run_with_the_reason_and_a_resume_matches(
    site, tmp_path, tiny_model_dir, small_world_tsv, straight, monkeypatch
):
    what, intact = SITES[site]
    folder = tmp_path / "run"
    with monkeypatch.context() as patch:
        _inject(site, patch)
        events = _run(_config(tiny_model_dir, small_world_tsv), folder)
    failed = events[-1]
    assert isinstance(failed, RunFailed), failed
    assert failed.reason.startswith(f"disk full while writing {what} in {folder}; "), failed.reason
    kept = f"the checkpoint of step {intact} is intact" if intact else "no checkpoint was written yet"
    assert kept in failed.reason and "MB and " in failed.reason, failed.reason
    assert "Traceback" not in failed.reason and not leftovers(folder)
    if site == "trained weights":
        assert not (folder / "model").exists(), "a torn copy of the weights is removed"
    if site == "result.json":  # it could not be written: the folder reads as interrupted, resumable
        assert not (folder / "result.json").exists() and RunFolder(folder).status() is RunStatus.INTERRUPTED
    else:
        result = json.loads((folder / "result.json").read_text())
        assert result["status"] == "failed" and result["reason"] == failed.reason
        assert result["resumable"] is (site != "config.json"), "resumable once config.json is on disk"
    logged = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]  # no torn line
    assert logged[-1]["event"] == "RunFailed" and logged[-1]["reason"] == failed.reason
    if site == "config.json":  # nothing to resume yet: the run starts again
        assert "start it again" in failed.reason and not any(isinstance(e, RunStarted) for e in events)
        events = _run(_config(tiny_model_dir, small_world_tsv), folder)
    else:
        assert RunFolder(folder).is_resumable()
        events = _run(None, folder, resume=True)
        assert events[0].resumed_from == (intact or 0)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "finished"
    assert outcome(folder) == straight, "a resume after a full disk reaches what an uninterrupted run reaches"


def test_a_full_disk_met_by_the_consumer_ends_the_run_the_same_way(tmp_path, tiny_model_dir, small_world_tsv):
    """Whoever drives the run (the run store's recorder) can throw in the full disk it met: the run ends with the
    same reason shape, in its folder too."""
    folder = tmp_path / "run"
    gen = train(_config(tiny_model_dir, small_world_tsv), folder)
    event = next(gen)
    while not (isinstance(event, StepLogged) and event.step == 25):
        event = next(gen)
    failed = gen.throw(DiskFullError("the run store runs.sqlite"))
    assert isinstance(failed, RunFailed), failed
    assert failed.reason.startswith(f"disk full while writing the run store runs.sqlite in {folder}; ")
    assert "the checkpoint of step 20 is intact" in failed.reason
    assert json.loads((folder / "result.json").read_text())["reason"] == failed.reason
    assert RunFolder(folder).is_resumable()


def test_a_full_run_store_ends_the_run_failed_with_the_stores_name(
    tmp_path, tiny_model_dir, small_world_tsv, monkeypatch
):
    """The recorder meets a full disk in the SQLite store: the run is told, ends failed with the reason (its
    checkpoint intact), and the consumer sees that RunFailed instead of a store error."""
    from mto_studio.core.store.recording import recorded

    folder, store = tmp_path / "run", RunStore(tmp_path / "runs.sqlite")
    run_pk = store.upsert_run(folder, name="run")
    real = RunStore.record

    def record(self, run_id, event):
        if isinstance(event, StepLogged) and event.step >= 25:
            raise self._write_error(sqlite3.OperationalError("database or disk is full"))
        return real(self, run_id, event)

    monkeypatch.setattr(RunStore, "record", record)
    events = list(recorded(train(_config(tiny_model_dir, small_world_tsv), folder), store, run_pk))
    failed = events[-1]
    assert isinstance(failed, RunFailed), failed
    assert failed.reason.startswith(f"disk full while writing the run store {tmp_path / 'runs.sqlite'} in {folder}")
    assert "the checkpoint of step 20 is intact" in failed.reason and RunFolder(folder).is_resumable()
    store.close()


def test_temporary_checkpoint_folders_are_removed_at_the_next_start(tmp_path, tiny_model_dir, small_world_tsv):
    """A checkpoint write a kill cut short leaves .tmp-step-*; the next run in the folder (resumed or fresh) removes
    it, and a fresh run also drops an earlier attempt's checkpoints (it must never resume from them)."""
    folder = tmp_path / "run"
    stopped = _run(_config(tiny_model_dir, small_world_tsv), folder, stop_at=15)
    assert stopped[-1].status == "stopped"
    torn = folder / "checkpoints" / ".tmp-step-0000020-999999"
    torn.mkdir()
    (torn / "optimizer.pt").write_bytes(b"x" * 1000)
    events = _run(None, folder, resume=True)
    assert events[0].resumed_from == 15 and isinstance(events[-1], RunFinished) and not torn.exists()
    torn.mkdir(parents=True)  # the finished run removed its checkpoints folder
    _run(_config(tiny_model_dir, small_world_tsv, steps=10, eval_every=0), folder)
    assert not torn.exists() and not list((folder / "checkpoints").glob("step-*")), "the earlier attempt's are gone"


# --- before a run: too little free space ---------------------------------------------------------------------------
def test_too_little_free_space_is_refused_before_anything_is_written(
    tmp_path, tiny_model_dir, small_world_tsv, monkeypatch
):
    from mto_studio.core import fsio

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(fsio.shutil, "disk_usage", lambda p: usage._replace(free=1_000_000))
    folder = tmp_path / "new" / "run"
    with pytest.raises(NotEnoughSpaceError, match=r"not enough free disk space for this run in .*needs about \d+ MB"):
        next(train(_config(tiny_model_dir, small_world_tsv), folder))
    assert not (tmp_path / "new").exists(), "nothing is written, not even the folder"


CLI = """
import sys
{inject}
from mto_studio.cli import main
sys.exit(main(sys.argv[1:]))
"""
SMALL_DISK = """
import shutil
real = shutil.disk_usage
shutil.disk_usage = lambda p: real(p)._replace(free=3_000_000)
"""
FULL_AT_SECOND_CHECKPOINT = """
import errno, torch
real, calls = torch.save, []
def save(obj, f, *a, **k):
    calls.append(1)
    if len(calls) == 2:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")
    return real(obj, f, *a, **k)
torch.save = save
"""


def _cli(inject: str, *args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLI.format(inject=inject), *map(str, args)], capture_output=True,
                          text=True, timeout=240, cwd=REPO)  # fmt: skip


def _cli_train(tiny_model_dir, small_world_tsv, out: Path, store: Path) -> list[str]:
    return ["train", "--model", tiny_model_dir, "--data", small_world_tsv, "--test-data",
            small_world_tsv.with_name("small-test.tsv"), "--steps", "30", "--eval-every", "10", "--batch-size", "8",
            "--lr", "3e-3", "--set", "warmup_steps=5", "--set", "validation_heads=2", "--out", out, "--store", store]  # fmt: skip


def test_cli_too_little_space_is_one_line_exit_2(tmp_path, tiny_model_dir, small_world_tsv):
    out = tmp_path / "run"
    done = _cli(SMALL_DISK, *_cli_train(tiny_model_dir, small_world_tsv, out, tmp_path / "runs.sqlite"))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mto-studio: error: not enough free disk space for this run")
    assert "MB are free" in lines[0] and "Traceback" not in done.stdout + done.stderr
    assert not out.exists()


def test_cli_full_disk_fails_with_one_line_exit_1_and_the_store_says_why(tmp_path, tiny_model_dir, small_world_tsv):
    out, store = tmp_path / "run", tmp_path / "runs.sqlite"
    done = _cli(FULL_AT_SECOND_CHECKPOINT, *_cli_train(tiny_model_dir, small_world_tsv, out, store))
    assert done.returncode == 1, done.stderr
    said = {line.split("disk full", 1)[1] for line in (done.stdout + done.stderr).splitlines() if "disk full" in line}
    assert len(said) == 1 and "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    said = ["disk full" + said.pop()]
    assert "disk full while writing the checkpoint of step 20" in said[0]
    assert "the checkpoint of step 10 is intact" in said[0] and "MB and resume" in said[0]
    assert not leftovers(out)
    with RunStore(store) as runs:
        (row,) = runs.runs()
    assert row.status == "failed" and row.reason.startswith("disk full while writing the checkpoint of step 20")
    saved = json.loads((out / "config.json").read_text())
    saved.pop("resolved_model")
    straight = tmp_path / "straight"
    _run(TrainConfig.from_dict(saved), straight)
    resumed = _run(None, out, resume=True)
    assert resumed[0].resumed_from == 10 and outcome(out) == outcome(straight)


# --- a real full disk: a small tmpfs (root only) -------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root; the injected errors above cover each write site")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte; returns the filler to delete."""
    filler = disk / f"filler-{uuid.uuid4().hex}"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * (1 << 16))
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_real_full_disk_fails_resumably(small_disk, tiny_model_dir, small_world_tsv, straight):
    folder = small_disk / "run"
    gen = train(_config(tiny_model_dir, small_world_tsv), folder)
    events, filler = [], None
    for event in gen:  # the disk fills up after the checkpoint of step 10
        events.append(event)
        if filler is None and isinstance(event, StepLogged) and event.step == 15:
            filler = _fill(small_disk)
    failed = events[-1]
    assert isinstance(failed, RunFailed) and failed.reason.startswith("disk full while writing "), failed
    assert "the checkpoint of step 10 is intact" in failed.reason and not leftovers(folder)
    assert filler is not None
    filler.unlink()  # room again
    resumed = _run(None, folder, resume=True)
    assert resumed[0].resumed_from == 10 and outcome(folder) == straight


# --- an experiment: the run store and the report ---------------------------------------------------------------
class FullDb:
    """A store connection whose batched inserts (the metrics of StepLogged and EvalDone) hit a full disk while
    ``full`` is set."""

    def __init__(self, db) -> None:
        self.db, self.full = db, True

    def executemany(self, sql, rows):
        if self.full and any(row[3] == "validation" and row[1] == 20 for row in rows):
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.executemany(sql, rows)

    def __getattr__(self, name):
        return getattr(self.db, name)


def test_an_experiment_stops_on_a_full_disk_and_resumes(tmp_path, tiny_model_dir, small_world_tsv, monkeypatch):
    from mto_studio.core import fsio
    from mto_studio.core.jobs.events import ExperimentFinished
    from mto_studio.core.training.experiment import run_experiment
    from mto_studio.core.training.experiment_config import ExperimentConfig

    train_cfg = _config(tiny_model_dir, small_world_tsv).to_dict()
    cfg = ExperimentConfig.from_dict(
        {
            "name": "full",
            "templates": ["unsup-nat"],
            "baseline": "unsup-nat",
            "shots": ["full", "4"],
            "seeds": [0],
            "model": str(tiny_model_dir),
            "data": str(small_world_tsv),
            "test_data": train_cfg["test_data"],
            "train": {
                k: train_cfg[k]
                for k in ("steps", "batch_size", "lr", "warmup_steps", "eval_every", "validation_heads", "threads")
            },
        }  # fmt: skip
    )
    folder = tmp_path / "exp"
    store = RunStore(tmp_path / "runs.sqlite")
    store._db = FullDb(store._db)  # the metrics of the evaluation at step 20 cannot be stored
    events = list(run_experiment(cfg, folder, store=store))
    failed = [e for e in events if isinstance(e, RunFailed)]
    assert len(failed) == 1 and failed[0].reason.startswith("disk full while writing the run store"), failed
    assert isinstance(events[-1], ExperimentFinished) and events[-1].status == "failed"
    assert sum(isinstance(e, RunStarted) for e in events) == 1, "the next run is not started on a full disk"
    store._db.full = False
    (row,) = store.runs()
    assert row.status == "failed" and row.reason == failed[0].reason
    run_dir = Path(row.folder)
    assert RunFolder(run_dir).is_resumable() and not leftovers(run_dir)
    with monkeypatch.context() as patch:  # room again, until the report
        patch.setattr(fsio, "os", FullOs("replace", lambda src, dst: Path(dst).name == "report.md", 99))
        started = []
        with pytest.raises(DiskFullError, match=r"disk full while writing report.md in .* resume"):
            for event in run_experiment(None, folder, store=store, resume=True):
                started += [event.resumed_from] if isinstance(event, RunStarted) else []
    assert started == [10, 0], "the run the full disk stopped continues from its checkpoint; the next one starts"
    assert store.experiments()[0].status == "failed"
    assert {r.status for r in store.runs()} == {"finished"}
    events = list(run_experiment(None, folder, store=store, resume=True))
    assert events[-1].status == "finished" and Path(events[-1].report).is_file()
    store.close()


# --- pre-training ------------------------------------------------------------------------------------------------------
TINY_RECIPE = tiny_recipe(steps=30, batch_size=4, warmup_steps=5, eval_every=0, checkpoint_every=10, log_every=5)


def test_pretraining_on_a_full_disk_fails_resumably(tmp_path, monkeypatch):
    from mto_studio.core.pretraining.objective_lab import PretrainConfig, pretrain

    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY_RECIPE)
    cfg = PretrainConfig.load(recipe)
    out = tmp_path / "lab"
    with monkeypatch.context() as patch:
        module, name, fake = _torch_save_fails_at(2)
        patch.setattr(module, name, fake)
        events = list(pretrain(cfg, out))
    failed = events[-1]
    assert isinstance(failed, RunFailed), failed
    assert failed.reason.startswith("disk full while writing the checkpoint of step 20")
    assert "the checkpoint of step 10 is intact" in failed.reason and not list(out.glob("checkpoints/.tmp-step-*"))
    logged = [json.loads(line) for line in (out / "pretrain_log.jsonl").read_text().splitlines()]
    assert logged[-1]["event"] == "RunFailed" and logged[-1]["reason"] == failed.reason
    resumed = list(pretrain(cfg, out, resume=True))
    assert resumed[0].resumed_from == 10 and isinstance(resumed[-1], RunFinished)
    assert resumed[-1].status == "finished"
