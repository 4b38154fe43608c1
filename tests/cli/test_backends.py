"""`--backend`, `--cluster` and `--parallel` on train, sweep and pretrain. In the default suite: the refusals (exit 2,
one line that says what to do) and the progress display of interleaved runs. Marked `distributed` (they spawn
worker processes): a 4-run sweep on `process` and on `process --parallel 2` gives the `thread` backend's table; a
run whose worker is killed with SIGKILL ends 'interrupted' (store and folder), the CLI exits 130 naming the reason,
and `--resume` finishes it identical to an uninterrupted run."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import time
from pathlib import Path

import pytest

from mto_studio.cli import main
from mto_studio.core.jobs.events import RunFinished, RunStarted, StepLogged, WorkerStarted

RECIPE = Path(__file__).resolve().parents[2] / "resources" / "recipes" / "mto-tiny.toml"


def cli(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def refused(code: int, err: str, *words: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["sweep", "--parallel", "2"], ["--parallel 2 needs runs in worker processes", "add --backend process"]),
        (["sweep", "--backend", "process", "--parallel", "0"], ["--parallel 0 is not a number of runs", "1 or more"]),
        (["sweep", "--cluster", "auto"], ["--cluster auto needs the Ray backend", "add --backend ray"]),
        (
            ["train", "--backend", "process", "--cluster", "ray://head:10001"],
            ["needs the Ray backend", "--backend ray"],
        ),
        (["train", "--backend", "gpu"], ["unknown backend 'gpu'", "thread, process, ray"]),
        (["pretrain", "--recipe", str(RECIPE), "--backend", "threads"], ["unknown backend 'threads'"]),
    ],
)
def test_backend_options_that_cannot_work_exit_2_with_the_fix(tmp_path, args, words):
    extra = ["--out", str(tmp_path / "out")]
    code, _, err = cli(*args, *extra)
    refused(code, err, *words)
    assert not (tmp_path / "out").exists(), "nothing is written before the refusal"


@pytest.mark.parametrize("command", ["sweep", "train", "pretrain"])
def test_choosing_ray_without_ray_says_how_to_install_it(tmp_path, monkeypatch, command):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    extra = ["--recipe", str(RECIPE)] if command == "pretrain" else []
    code, _, err = cli(command, *extra, "--backend", "ray", "--out", tmp_path / "out")
    refused(code, err, "the Ray backend needs Ray, which is not installed", 'pip install "mto-studio[cluster]"')


def test_the_progress_bar_sums_interleaved_runs_and_says_where_each_runs(capsys):
    from mto_studio.cli.progress import EventPrinter

    printer = EventPrinter(total_steps=40)
    for event in (
        WorkerStarted("process", "lab-1", 4242, "000-a"),
        WorkerStarted("ray", "10.0.0.7", 99, "001-b", attempt=2),
        RunStarted("000-a", "a", 20),
        RunStarted("001-b", "b", 20, resumed_from=5),
        StepLogged("000-a", 10, 20, 1.0, 0.1, 80, 0.0, 1.0),
        StepLogged("001-b", 15, 20, 1.0, 0.1, 120, 0.0, 1.0),
    ):
        printer(event)
    assert printer.bar.n == 25, "the steps of both runs, not the latest run's alone"
    printer(RunFinished("000-a", "finished", 20))
    assert printer.bar.n == 35
    printer.close()
    err = capsys.readouterr().err
    assert "run 000-a runs in process 4242 on lab-1" in err
    assert "run 001-b runs on Ray node 10.0.0.7 (pid 99) (attempt 2, from its last checkpoint)" in err


# --- with worker processes ------------------------------------------------------------------------------------------
#: a 2 templates × 2 seeds sweep of mto-tiny on two relations of the built-in world: small, and deterministic
SWEEP = ["--templates", "unsup-nat,sup", "--shots", "8", "--seeds", "2", "--relations", "AtLocation,xIntent",
         "--steps", "20", "--eval-every", "10", "--threads", "1", "--set", "checkpoint_every=5",
         "--set", "max_test_heads=6", "--set", "max_eval_heads=6", "--json"]  # fmt: skip


def cells(folder: Path) -> list:
    """tables.json without anything that says how the runs executed: each cell (group × metric × template × k) with its per-seed values, mean and sd."""
    tables = json.loads((folder / "tables.json").read_text())
    return [
        (
            t["group"],
            t["metric"],
            [(c["method"], c["template"], c["shots"], c["mean"], c["sd"], c["values"]) for c in t["cells"]],
        )
        for t in tables
    ]


@pytest.fixture(scope="module")
def thread_sweep(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("thread") / "exp"
    started = time.monotonic()
    code, _, err = cli("sweep", *SWEEP, "--backend", "thread", "--out", folder)
    print(f"thread sweep: {time.monotonic() - started:.1f} s")
    assert code == 0, err
    return folder


@pytest.mark.distributed
@pytest.mark.parametrize("parallel", [[], ["--parallel", "2"]], ids=["sequential", "parallel-2"])
def test_a_sweep_in_worker_processes_gives_the_thread_backends_table(tmp_path, thread_sweep, parallel):
    folder = tmp_path / "exp"
    started = time.monotonic()
    code, out, err = cli("sweep", *SWEEP, "--backend", "process", *parallel, "--out", folder)
    print(f"process sweep {parallel}: {time.monotonic() - started:.1f} s")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    workers = [e for e in events if e["event"] == "WorkerStarted"]
    assert workers[0]["run_id"] == "" and workers[0]["pid"] != os.getpid(), "the experiment runs in a worker"
    per_run = {e["run_id"]: e["pid"] for e in workers[1:]}
    assert len(per_run) == (4 if parallel else 0), "with --parallel each run has a worker of its own"
    assert cells(folder) == cells(thread_sweep)
    from mto_studio.core.store import RunStore

    with RunStore(folder / "runs.sqlite") as store:
        assert [r.status for r in store.runs()] == ["finished"] * 4
        assert store.experiments()[0].status == "finished"


@pytest.mark.distributed
def test_a_killed_run_worker_leaves_the_run_interrupted_and_resume_matches(tmp_path, thread_sweep):
    from mto_studio.core.jobs.status import RunStatus
    from mto_studio.core.store import RunStore
    from mto_studio.core.store.run_folder import RunFolder
    from tests.reliability.test_interrupts import Child, outcome

    folder = tmp_path / "exp"
    started = time.monotonic()
    child = Child("sweep", *SWEEP, "--backend", "process", "--parallel", "2", "--out", folder)

    def checkpointed_run(c: Child) -> bool:
        pids = {e["run_id"]: e["pid"] for e in c.events() if e["event"] == "WorkerStarted" and e["run_id"]}
        return any(e["event"] == "CheckpointSaved" and e["run_id"] in pids for e in c.events())

    child.wait_for("a run's first checkpoint", checkpointed_run, timeout=300)
    events = child.events()
    victim = next(e["run_id"] for e in events if e["event"] == "CheckpointSaved")
    (pid,) = {e["pid"] for e in events if e["event"] == "WorkerStarted" and e["run_id"] == victim}
    os.kill(pid, signal.SIGKILL)
    assert child.finish() == 130, child.stderr[-3000:]
    print(f"killed sweep: {time.monotonic() - started:.1f} s")
    events = child.events()
    (lost,) = [e for e in events if e["event"] == "WorkerLost"]
    assert lost["run_id"] == victim and lost["exitcode"] == -signal.SIGKILL
    assert (events[-1]["event"], events[-1]["status"]) == ("ExperimentFinished", "interrupted")
    said = [line for line in child.stderr.splitlines() if line.startswith("mto-studio: ")]
    assert len(said) == 1 and "Traceback" not in child.stderr, child.stderr[-3000:]
    assert f"run {victim} was interrupted at step" in said[0] and "killed (SIGKILL" in said[0]
    assert "the checkpoint of step" in said[0] and said[0].endswith(
        f"resume with: mto-studio sweep --out {folder} --resume"
    )
    run_dir = folder / "runs" / victim
    assert RunFolder(run_dir).status() is RunStatus.INTERRUPTED and RunFolder(run_dir).is_resumable()
    with RunStore(folder / "runs.sqlite") as store:
        rows = {Path(r.folder).name: r for r in store.runs()}
        assert rows[victim].status == "interrupted" and "SIGKILL" in rows[victim].reason
        assert {r.status for name, r in rows.items() if name != victim} <= {"stopped", "finished"}
        assert store.experiments()[0].status == "interrupted"

    started = time.monotonic()
    code, _, err = cli("sweep", "--out", folder, "--resume", "--json")  # here, on the thread backend
    print(f"resume: {time.monotonic() - started:.1f} s")
    assert code == 0, err
    assert cells(folder) == cells(thread_sweep)
    for run in sorted((thread_sweep / "runs").iterdir()):
        assert outcome(folder / "runs" / run.name) == outcome(run), f"{run.name} differs from the uninterrupted run"
    with RunStore(folder / "runs.sqlite") as store:
        assert [r.status for r in store.runs()] == ["finished"] * 4
