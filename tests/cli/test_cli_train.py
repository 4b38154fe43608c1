"""`train` and `sweep` from the command line: results on disk, one clear line and exit 2 for bad configs."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import run_cli

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "sft"], "unknown method 'sft'"),
        (
            ["--shots", "99"],
            "k=99 is larger than the 7 heads of relation 'AtLocation' left after holding out validation",
        ),
        (["--model", "/no/such/folder"], "model folder not found"),
        (["--template", "prompt-sup"], "only prompt tuning trains"),
        (["--method", "prompt", "--template", "sup"], "prompt tuning needs soft-prompt slots"),
        (["--set", "warmup=3"], "unknown setting 'warmup'"),
    ],
)
def test_train_bad_configs_exit_2(tmp_path, tiny_model_dir, small_world_tsv, args, message):
    base = [
        "train",
        "--model",
        str(tiny_model_dir),
        "--data",
        str(small_world_tsv),
        "--steps",
        "5",
        "--out",
        str(tmp_path / "run"),
    ]
    done = run_cli(*base, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr


def test_train_json_events(tmp_path, tiny_model_dir, small_world_tsv):
    done = run_cli(
        "train",
        "--model",
        str(tiny_model_dir),
        "--data",
        str(small_world_tsv),
        "--steps",
        "10",
        "--eval-every",
        "5",
        "--shots",
        "4",
        "--out",
        str(tmp_path / "run"),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["event"] == "RunStarted" and events[-1]["event"] == "RunFinished"
    assert {e["event"] for e in events} >= {"StepLogged", "EvalDone", "CheckpointSaved"}


def test_train_nan_exits_1_with_the_reason(tmp_path, tiny_model_dir, small_world_tsv):
    # the CLI as users run it, in a child process whose loss turns NaN at step 3
    code = (
        "import sys; from tests.helpers import nan_loss_at_step; nan_loss_at_step(3); "
        "from mto_studio.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    args = ["train", "--model", str(tiny_model_dir), "--data", str(small_world_tsv), "--steps", "10"]
    done = subprocess.run(
        [sys.executable, "-c", code, *args, "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=240, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    (said,) = [line for line in done.stderr.splitlines() if line.startswith("mto-studio: ")]
    assert said.startswith("mto-studio: run failed: the loss became nan at step 3"), done.stderr
    assert "run failed" not in done.stdout and "nan" not in done.stdout, "a failure is not a result: stderr only"
    assert "Traceback" not in done.stderr
    # With --json, stdout holds only the events (the failure among them) and the line is still on stderr.
    done = subprocess.run(
        [sys.executable, "-c", code, *args, "--out", str(tmp_path / "run-json"), "--json"],
        capture_output=True, text=True, timeout=240, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[-1]["event"] == "RunFailed" and "the loss became nan at step 3" in events[-1]["reason"]
    (said,) = [line for line in done.stderr.splitlines() if line.startswith("mto-studio: ")]
    assert said.startswith("mto-studio: run failed: the loss became nan at step 3"), done.stderr


def test_sweep_with_a_failed_run_exits_1_and_says_so_on_stderr(tmp_path, tiny_model_dir, small_world_tsv):
    code = (
        "import sys; from tests.helpers import nan_loss_at_step; nan_loss_at_step(2, seed=1); "
        "from mto_studio.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    args = ["sweep", "--model", str(tiny_model_dir), "--data", str(small_world_tsv), "--templates", "unsup-nat",
            "--shots", "full", "--seeds", "2", "--steps", "4", "--eval-every", "0", "--out", str(tmp_path / "exp")]  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=240, cwd=REPO)
    assert done.returncode == 1, done.stderr
    (said,) = [line for line in done.stderr.splitlines() if line.startswith("mto-studio: ")]
    assert said.startswith("mto-studio: 1 run(s) failed; each one's reason is in its result.json"), said
    assert "resume with: mto-studio sweep --out" in said and "Traceback" not in done.stderr
    assert "run(s) failed" not in done.stdout and "report: " in done.stdout, (
        "stdout keeps the results: the report's paths"
    )


def test_sweep_writes_table_csv_and_plots(tmp_path, tiny_model_dir, small_world_tsv):
    out = tmp_path / "exp"
    done = run_cli(
        "sweep",
        "--model",
        str(tiny_model_dir),
        "--data",
        str(small_world_tsv),
        "--templates",
        "unsup-nat,sup",
        "--shots",
        "4,full",
        "--seeds",
        "2",
        "--steps",
        "20",
        "--eval-every",
        "10",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    table = (out / "results.md").read_text()
    assert "| finetune | `unsup-nat` |" in table and "`sup` (baseline)" in table and "k=4" in table
    rows = list(csv.DictReader((out / "results.csv").open()))
    cells = {(r["group"], r["metric"], r["template"], r["shots"]) for r in rows}
    assert ("all relations", "rougeL", "unsup-nat", "4") in cells and (
        "all relations",
        "rougeL",
        "sup",
        "full",
    ) in cells
    assert all(int(r["n"]) == 2 for r in rows)
    for name in ("curves.png", "ladder.png", "report.md"):
        assert (out / name).stat().st_size > 1000, name
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((out / "runs").iterdir())) == 8
    from mto_studio.core.store import RunStore

    store = RunStore(out / "runs.sqlite")
    assert [e.status for e in store.experiments()] == ["finished"]
    assert sorted({r.status for r in store.runs()}) == ["finished"] and len(store.runs()) == 8
    again = run_cli("sweep", "--out", str(out), "--resume")
    assert again.returncode == 0 and "done already" in again.stderr


def test_training_flags_come_from_the_config_fields():
    from mto_studio.cli.train_cmd import TRAIN_FLAGS
    from mto_studio.core.config import field_info
    from mto_studio.core.training.config import TrainConfig

    text = " ".join(run_cli("train", "--help").stdout.split())
    for name in TRAIN_FLAGS:
        info = field_info(TrainConfig, name)
        assert info.flag in text and " ".join(info.describe().split()) in text, name
    bad = run_cli("train", "--lr", "20", "--steps", "2")
    assert bad.returncode == 2 and "lr = 20.0 is above 10.0" in bad.stderr


def test_train_with_a_store_marks_runs_a_dead_process_left_running(tmp_path, tiny_model_dir, small_world_tsv):
    from mto_studio.core.jobs.status import RunStatus
    from mto_studio.core.store import RunStore

    store_path = tmp_path / "runs.sqlite"
    with RunStore(store_path) as store:  # a run whose process was killed: 'running', its folder not locked
        dead = store.upsert_run(tmp_path / "dead-run", name="killed")
        store.set_run_status(dead, RunStatus.RUNNING)
    done = run_cli("train", "--model", str(tiny_model_dir), "--data", str(small_world_tsv), "--steps", "2",
                   "--eval-every", "0", "--out", str(tmp_path / "run"), "--store", str(store_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    with RunStore(store_path) as store:
        statuses = {Path(row.folder).name: row.status for row in store.runs()}
    assert statuses == {"dead-run": RunStatus.INTERRUPTED, "run": RunStatus.FINISHED}
