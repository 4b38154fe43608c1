"""One writer per folder (issue 13, item 2): a second `train` or `sweep` into a folder in use is refused before it
writes anything (exit 2, the holder named), the first is unaffected; a lock left by a dead process does not block;
the run store takes concurrent writers and rolls back every failed write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from importlib.util import find_spec
from pathlib import Path

import pytest

from mto_studio.core.errors import MtoError
from mto_studio.core.jobs.events import RunStarted, StepLogged
from mto_studio.core.store import FolderBusyError, FolderLock, RunStore, holder_of
from mto_studio.core.store.locks import LOCK_FILE
from mto_studio.core.store.run_folder import ExperimentFolder
from mto_studio.core.training.experiment_config import ExperimentConfig
from tests.gui.conftest import default_project, dialogs, isolated, window  # noqa: F401 - the app's fixtures
from tests.helpers import run_cli

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="freezes the first writer with SIGSTOP")


def start_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mto_studio", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_event(process: subprocess.Popen, name: str) -> list[dict]:
    """Read the process's --json events until ``name`` arrives (the writer has its lock and is under way)."""
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == name:
            return seen
    raise AssertionError(f"ended before {name}: {process.wait()} {process.stderr.read() if process.stderr else ''}")


def refused_while_frozen(first: subprocess.Popen, folder: Path, *second: str) -> subprocess.CompletedProcess:
    """Run the second writer while the first is frozen mid-work (it keeps its lock: the OS holds it)."""
    os.kill(first.pid, signal.SIGSTOP)
    try:
        holder = holder_of(folder)
        assert holder is not None and holder.pid == first.pid, "the first writer holds the folder"
        return run_cli(*second, timeout=120)
    finally:
        os.kill(first.pid, signal.SIGCONT)


def assert_refused(done: subprocess.CompletedProcess, holder_pid: int, command: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"is in use by PID {holder_pid} since " in lines[0] and f"({command})" in lines[0], lines[0]
    assert "wait for it to finish" in lines[0]


def hold(folder: Path) -> subprocess.Popen:
    """A real process that holds the folder's lock until it is killed."""
    code = f"from mto_studio.core.store import FolderLock; held = FolderLock({str(folder)!r}).acquire(); print('held', flush=True)"
    code += "; import time; time.sleep(120)"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def hold_and_die(folder: Path) -> int:
    """A real process that takes the folder's lock and is killed with SIGKILL (it cannot release it)."""
    process = hold(folder)
    with pytest.raises(FolderBusyError, match=f"in use by PID {process.pid} since "):
        FolderLock(folder).acquire()
    process.kill()
    process.wait(timeout=30)
    return process.pid


@posix_only
def test_a_second_train_into_the_same_folder_is_refused_and_the_first_is_unaffected(
    tmp_path, tiny_model_dir, small_world_tsv
):
    run_dir = tmp_path / "run"
    hold_and_die(run_dir)  # a lock file left by a killed process: it must not block the first writer
    common = ["--model", str(tiny_model_dir), "--data", str(small_world_tsv), "--steps", "20", "--eval-every", "0"]
    common += ["--batch-size", "4", "--set", "validation_heads=2", "--out", str(run_dir), "--json"]
    first = start_cli("train", *common, "--seed", "0")
    wait_for_event(first, "RunStarted")
    second = refused_while_frozen(first, run_dir, "train", *common, "--seed", "1")
    assert_refused(second, first.pid, "mto-studio train")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert json.loads(out.splitlines()[-1])["status"] == "finished"
    assert json.loads((run_dir / "config.json").read_text())["seed"] == 0, "the second writer wrote no config"
    assert json.loads((run_dir / "result.json").read_text())["status"] == "finished"
    logged = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [e["event"] for e in logged].count("RunStarted") == 1 and logged[0]["config"]["seed"] == 0
    assert not (run_dir / LOCK_FILE).exists(), "the lock file goes with its holder"


@posix_only
def test_a_second_sweep_into_the_same_folder_is_refused_and_does_no_work(tmp_path, tiny_model_dir, small_world_tsv):
    out = tmp_path / "exp"
    args = ["sweep", "--model", str(tiny_model_dir), "--data", str(small_world_tsv), "--templates", "unsup-nat"]
    args += ["--shots", "4", "--seeds", "1", "--steps", "10", "--eval-every", "0", "--set", "validation_heads=2"]
    args += ["--out", str(out), "--json"]
    first = start_cli(*args)
    wait_for_event(first, "RunStarted")
    second = refused_while_frozen(first, out, *args)
    assert_refused(second, first.pid, "mto-studio sweep")
    _, err = first.communicate(timeout=180)
    assert first.returncode == 0, err
    with RunStore(out / "runs.sqlite") as store:
        assert [e.status for e in store.experiments()] == ["finished"], "one experiment, not two"
        assert [r.status for r in store.runs()] == ["finished"]
    assert len(list((out / "runs").iterdir())) == 1
    for run in (out / "runs").iterdir():
        logged = (run / "metrics.jsonl").read_text()
        assert logged.count('"RunStarted"') == 1, "each run trained once"


def test_a_lock_left_by_a_dead_process_does_not_block(tmp_path):
    folder = tmp_path / "run"
    dead = hold_and_die(folder)
    assert json.loads((folder / LOCK_FILE).read_text())["pid"] == dead, "the dead holder's record is still there"
    assert holder_of(folder) is None
    with FolderLock(folder):
        assert json.loads((folder / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert not (folder / LOCK_FILE).exists() and folder.is_dir(), "a folder the lock did not make stays"


def test_a_refused_writer_leaves_no_folder_and_a_released_lock_no_file(tmp_path):
    folder = tmp_path / "a" / "b"
    with FolderLock(folder, what="run folder"):
        assert (folder / LOCK_FILE).is_file() and holder_of(folder).pid == os.getpid()
        with pytest.raises(FolderBusyError) as refused:
            FolderLock(folder, what="run folder").acquire()
        assert refused.value.holder is not None and refused.value.holder.pid == os.getpid()
        assert str(refused.value).startswith(f"run folder {folder} is in use by PID {os.getpid()} since ")
    assert not (tmp_path / "a").exists(), "folders the lock made and nothing filled are removed with it"
    with pytest.raises(MtoError, match="is a file"):
        (tmp_path / "file").write_text("x")
        FolderLock(tmp_path / "file").acquire()


def test_every_writer_takes_the_lock_before_it_writes(tmp_path):
    """train (fresh and resumed), the experiment (fresh and resumed) and pre-training refuse a locked folder at
    their first step, leaving what is there as it was."""
    from mto_studio.core.pretraining.objective_lab import PretrainConfig, pretrain
    from mto_studio.core.training.config import TrainConfig
    from mto_studio.core.training.experiment import run_experiment
    from mto_studio.core.training.experiment_config import ExperimentConfig
    from mto_studio.core.training.loop import train

    starts = {
        "run folder": [lambda f: train(TrainConfig(), f), lambda f: train(None, f, resume=True)],
        "experiment folder": [
            lambda f: run_experiment(ExperimentConfig(), f),
            lambda f: run_experiment(None, f, resume=True),
        ],
        "pre-training folder": [
            lambda f: pretrain(PretrainConfig(), f),
            lambda f: pretrain(PretrainConfig(), f, resume=True),
        ],
    }
    for what, makers in starts.items():
        folder = tmp_path / what.replace(" ", "-")
        folder.mkdir()
        (folder / "kept.txt").write_text("x")
        with FolderLock(folder):
            for make in makers:
                with pytest.raises(FolderBusyError, match=f"^{what} {folder} is in use by PID {os.getpid()} since "):
                    next(make(folder))
        assert sorted(p.name for p in folder.iterdir()) == ["kept.txt"], what


def test_an_experiment_leaves_alone_a_run_that_another_process_trains(tmp_path, tiny_model_dir, small_world_tsv):
    """`train --resume EXP/runs/000-…` in a terminal while the experiment reaches that run: the experiment stops
    with the holder named instead of marking the run failed in a folder that is not its to write."""
    from mto_studio.core.training.experiment import run_experiment, run_folder_name
    from mto_studio.core.training.experiment_config import ExperimentConfig

    cfg = ExperimentConfig(
        templates=["unsup-nat"], shots=["4"], seeds=[0], model=str(tiny_model_dir), data=str(small_world_tsv)
    )
    folder = tmp_path / "exp"
    run_dir = ExperimentFolder(folder).run(run_folder_name(0, cfg.runs()[0])).path
    holder = hold(run_dir)
    try:
        with RunStore(tmp_path / "runs.sqlite") as store:
            events = run_experiment(cfg, folder, store=store)
            with pytest.raises(FolderBusyError, match=f"^run folder {run_dir} is in use by PID {holder.pid} "):
                for _ in events:
                    pass
            assert store.runs() == [], "no row for a run this experiment did not train"
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert sorted(p.name for p in run_dir.iterdir()) == [LOCK_FILE], "nothing written into the run's folder"


def test_concurrent_upserts_of_the_same_runs_never_raise_and_leave_one_row_each(tmp_path):
    path = tmp_path / "runs.sqlite"
    RunStore(path).close()
    threads, folders = 6, [str(tmp_path / f"run-{i}") for i in range(40)]
    barrier = threading.Barrier(threads)
    ids: list[list[int]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []

    def writer(slot: int) -> None:
        store = RunStore(path)  # one connection per thread, as the GUI's workers and other processes have
        try:
            for folder in folders:
                barrier.wait(timeout=30)
                ids[slot].append(store.upsert_run(folder, name=Path(folder).name, config={"seed": slot}))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)
            barrier.abort()
        finally:
            store.close()

    workers = [threading.Thread(target=writer, args=(slot,)) for slot in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors[0]
    assert all(row == ids[0] for row in ids), "every writer got the same row for a folder"
    with RunStore(path) as store:
        runs = store.runs()
        assert sorted(r.folder for r in runs) == sorted(folders) and len({r.id for r in runs}) == len(folders)


def test_a_failed_store_write_is_rolled_back_and_the_store_stays_usable(tmp_path):
    path = tmp_path / "runs.sqlite"
    store = RunStore(path)
    run = store.upsert_run(tmp_path / "r0", name="r0")
    with pytest.raises(MtoError, match="cannot write the run store"):
        store.record(run + 99, StepLogged("x", 5, 10, 1.0, 1e-3, 20, 1.0, 1.0))  # no such run: a foreign key fails
    assert not store.in_transaction
    store.record(run, RunStarted("r0", "r0", 10))  # the same connection writes again, and commits
    other = RunStore(path)
    other._db.execute("PRAGMA busy_timeout=500")
    assert other.run(run).status == "running"
    other.set_run_status(run, "stopped")  # no write lock is left held by the failed write
    assert store.run(run).status == "stopped"
    other.close()
    store.close()


def test_dead_runs_are_marked_interrupted_and_live_writers_are_left_alone(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    live_dir, dead_dir = tmp_path / "live", tmp_path / "dead"
    live = store.upsert_run(live_dir, name="live")
    dead = store.upsert_run(dead_dir, name="dead")
    experiment = store.create_experiment("exp", {}, tmp_path / "exp")
    inside = store.upsert_run(tmp_path / "exp" / "runs" / "000", name="inside", experiment_id=experiment)
    for run in (live, dead, inside):
        store.record(run, RunStarted("r", "r", 10))
    hold_and_die(dead_dir)
    with FolderLock(live_dir), FolderLock(tmp_path / "exp"):  # a live writer (another handle: another process's view)
        other = RunStore(tmp_path / "runs.sqlite")
        assert other.mark_interrupted() == 1
        assert {r.name: r.status for r in other.runs()} == {
            "live": "running",
            "dead": "interrupted",
            "inside": "running",
        }
        assert other.experiment(experiment).status == "running"
        other.close()
    assert store.mark_interrupted() == 2 and store.experiment(experiment).status == "interrupted"
    store.close()


@pytest.mark.gui
@pytest.mark.skipif(not (find_spec("PySide6") and find_spec("pytestqt")), reason="needs PySide6 and pytest-qt")
def test_the_trainer_says_in_a_dialog_who_holds_the_experiment_folder(window, qtbot, dialogs, tmp_path):  # noqa: F811
    folder = tmp_path / "exp"
    ExperimentFolder(folder).write_config({"experiment_id": 0, "config": ExperimentConfig(name="held").to_dict()})
    holder = hold(folder)  # say, `mto-studio sweep --out exp --resume` in a terminal
    try:
        view = window.workbench("trainer")
        assert view.resume(folder) is not None
        qtbot.waitUntil(lambda: view.worker is None, timeout=60_000)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    (shown,) = dialogs.shown
    assert shown["title"] == "The experiment could not run"
    assert f"experiment folder {folder} is in use by PID {holder.pid} since " in shown["text"]
    assert "wait for it to finish" in shown["info"] and view.last_status == "failed"
    assert "did not run" in view.status_label.text()
    assert json.loads((folder / ExperimentFolder.CONFIG).read_text())["config"]["name"] == "held", "nothing written"
