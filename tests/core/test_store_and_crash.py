"""The run store and crash safety: a SIGKILLed run keeps its metrics and resumes; SQLite stays readable."""

import json
import os
import signal
import subprocess
import sys
import time

from mto_studio.core.jobs.events import EvalDone, RunFailed, RunFinished, RunStarted, StepLogged
from mto_studio.core.store import RunStore


def test_store_records_events_and_marks_interrupted_runs(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    experiment = store.create_experiment("e1", {"templates": ["sup"]}, tmp_path)
    run = store.upsert_run(
        tmp_path / "r1",
        name="r1",
        experiment_id=experiment,
        config={"template": "sup", "method": "finetune", "shots": 8, "seed": 1, "steps": 10},
    )
    assert store.upsert_run(tmp_path / "r1", name="r1") == run
    store.record(run, RunStarted("r1", "r1", 10))
    for step in (5, 10):
        store.record(run, StepLogged("r1", step, 10, 1.0 / step, 1e-3, step * 4, 100.0, 1.0))
    store.record(run, EvalDone("r1", 10, 40, {"rougeL": 0.5}, "validation", {"xIntent": {"rougeL": 0.4}}))
    assert [v for _, _, v in store.series(run, "loss")] == [0.2, 0.1]
    assert store.series(run, "rougeL", "validation") == [(10, 40, 0.5)]
    assert store.series(run, "rougeL@xIntent", "validation") == [(10, 40, 0.4)]
    row = store.run(run)
    assert (row.status, row.template, row.shots, row.seed, row.step) == ("running", "sup", "8", 1, 10)
    other = RunStore(tmp_path / "runs.sqlite")  # a second connection (the GUI) reads while the first writes
    assert other.mark_interrupted() == 1
    assert store.run(run).status == "interrupted"
    store.record(run, RunStarted("r1", "r1", 10, resumed_from=5))
    assert [s for s, _, _ in store.series(run, "loss")] == [5]
    store.record(run, RunFailed("r1", "the loss became nan at step 7"))
    assert store.run(run).reason == "the loss became nan at step 7"
    store.record(run, RunFinished("r1", "finished", 10, {"rougeL": 0.6}))
    assert store.run(run).metrics == {"rougeL": 0.6} and store.runs(experiment)[0].status == "finished"


def test_sigkill_mid_training_keeps_metrics_and_resumes(tmp_path, tiny_model_dir, small_world_tsv):
    run_dir = tmp_path / "run"
    store_path = tmp_path / "runs.sqlite"
    command = [
        sys.executable,
        "-m",
        "mto_studio",
        "train",
        "--model",
        str(tiny_model_dir),
        "--data",
        str(small_world_tsv),
        "--template",
        "unsup-nat",
        "--steps",
        "400",
        "--eval-every",
        "0",
        "--batch-size",
        "8",
        "--set",
        "checkpoint_every=20",
        "--set",
        "validation_heads=2",
        "--out",
        str(run_dir),
        "--store",
        str(store_path),
        "--json",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoints = run_dir / "checkpoints"
    deadline = time.time() + 120
    while time.time() < deadline:
        found = sorted(checkpoints.glob("step-*")) if checkpoints.exists() else []
        if found and int(found[-1].name.split("-")[1]) >= 40:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    logged = [json.loads(line) for line in lines if line.strip().endswith("}")]
    steps = [r["step"] for r in logged if r["event"] == "StepLogged"]
    assert steps and steps[-1] >= 40, "metrics up to the last flush survive"
    store = RunStore(store_path)
    (row,) = store.runs()
    assert row.status == "running" and row.step >= 40
    assert store.mark_interrupted() == 1
    last_checkpoint = max(int(p.name.split("-")[1]) for p in checkpoints.glob("step-*"))
    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mto_studio",
            "train",
            "--resume",
            str(run_dir),
            "--store",
            str(store_path),
            "--json",
            "--steps",
            "400",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    events = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert events[0]["event"] == "RunStarted" and events[0]["resumed_from"] == last_checkpoint
    assert events[-1]["event"] == "RunFinished" and events[-1]["status"] == "finished"
    assert store.run(row.id).status == "finished"
    all_steps = [
        json.loads(x)["step"]
        for x in (run_dir / "metrics.jsonl").read_text().splitlines()
        if json.loads(x)["event"] == "StepLogged"
    ]
    assert all_steps == sorted(set(all_steps)) and all_steps[-1] == 400
