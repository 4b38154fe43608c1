"""Disk: a finished run keeps its trained weights and drops its checkpoints (optimizer state and all); a stopped run
keeps its checkpoint and resumes exactly; ``keep_checkpoints`` keeps everything; a resumed sweep still skips the
finished runs."""

import json

import pytest
import torch
from safetensors.torch import load_file

from mto_studio.core.errors import ConfigError
from mto_studio.core.jobs.events import ExperimentFinished, RunFinished, RunQueued, RunStarted, StepLogged, Stop
from mto_studio.core.store.run_folder import ExperimentFolder, RunFolder
from mto_studio.core.training.config import TrainConfig
from mto_studio.core.training.loop import train

TRAIN = dict(steps=30, batch_size=8, lr=3e-3, warmup_steps=5, eval_every=10, validation_heads=2, threads=1)


def _config(model_dir, data_path, **changes) -> TrainConfig:
    base = dict(model=str(model_dir), data=str(data_path), test_data=str(data_path.with_name("small-test.tsv")))
    return TrainConfig(**{**base, **TRAIN, "template": "unsup-nat", **changes})


def _run(cfg, folder, stop_at: int | None = None, *, resume: bool = False) -> list:
    events, command = [], None
    gen = train(cfg, folder, resume=resume)
    while True:
        try:
            event = gen.send(command)
        except StopIteration:
            return events
        events.append(event)
        command = Stop() if isinstance(event, StepLogged) and event.step == stop_at else None


@pytest.fixture(scope="module")
def straight(tmp_path_factory, tiny_model_dir, small_world_tsv):
    """A fine-tuning run that was never stopped."""
    folder = tmp_path_factory.mktemp("straight") / "run"
    return folder, _run(_config(tiny_model_dir, small_world_tsv), folder)


def test_a_finished_run_has_no_checkpoints_and_its_best_weights_load(straight, tiny_model_dir, small_world_tsv):
    from mto_studio.core.models.loading import load_seq2seq

    folder, events = straight
    assert isinstance(events[-1], RunFinished) and events[-1].status == "finished"
    assert any(f"step-{s:07d}" in str(getattr(e, "path", "")) for e in events for s in (10, 20)), "it checkpointed"
    assert not (folder / "checkpoints").exists() and not list(folder.rglob("optimizer.pt"))
    result = json.loads((folder / "result.json").read_text())
    assert result["checkpoints"] == "removed" and result["freed_bytes"] > 0
    assert events[-1].metrics["checkpoints_freed_mb"] == round(result["freed_bytes"] / 1e6, 1)
    run = RunFolder(folder)
    assert run.status().value == "finished" and not run.is_resumable()
    model, _ = load_seq2seq(str(folder / "model"))  # the kept (best) weights
    assert sum(p.numel() for p in model.parameters()) == events[0].config["parameters"]
    with pytest.raises(ConfigError, match="already finished"):
        next(train(None, folder, resume=True))
    assert (folder / "model" / "model.safetensors").is_file(), "a refused resume leaves the run as it was"


def test_lora_keeps_only_its_adapter(tmp_path, tiny_model_dir, small_world_tsv):
    from mto_studio.core.models.loading import load_seq2seq
    from mto_studio.core.training.methods import load_lora

    folder = tmp_path / "run"
    events = _run(_config(tiny_model_dir, small_world_tsv, method="lora", steps=20), folder)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "finished"
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["lora"]
    adapter = sum(p.stat().st_size for p in (folder / "lora").iterdir())
    assert adapter < (tiny_model_dir / "model.safetensors").stat().st_size
    base, _ = load_seq2seq(str(tiny_model_dir))
    assert load_lora(folder / "lora", base) is not None


def test_a_stopped_run_keeps_its_checkpoint_and_resumes_identically(
    straight, tmp_path, tiny_model_dir, small_world_tsv
):
    folder = tmp_path / "run"
    stopped = _run(_config(tiny_model_dir, small_world_tsv), folder, stop_at=15)
    assert stopped[-1].status == "stopped"
    assert (folder / "checkpoints" / "step-0000015" / "optimizer.pt").is_file() and RunFolder(folder).is_resumable()
    resumed = _run(None, folder, resume=True)
    assert resumed[0].resumed_from == 15 and resumed[-1].status == "finished"
    assert not (folder / "checkpoints").exists(), "once finished, the checkpoints go"
    a, b = straight[1][-1].metrics, resumed[-1].metrics
    assert a["rougeL"] == pytest.approx(b["rougeL"], abs=1e-6) and a["loss"] == pytest.approx(b["loss"], rel=1e-4)
    wa = load_file(str(straight[0] / "model" / "model.safetensors"))
    wb = load_file(str(folder / "model" / "model.safetensors"))
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=1e-5, atol=1e-6)


def test_keep_checkpoints_keeps_them(tmp_path, tiny_model_dir, small_world_tsv):
    folder = tmp_path / "run"
    events = _run(_config(tiny_model_dir, small_world_tsv, steps=20, keep_checkpoints=True), folder)
    assert events[-1].status == "finished" and events[-1].metrics["checkpoints_freed_mb"] == 0
    kept = sorted(p.name for p in (folder / "checkpoints").glob("step-*"))
    assert kept == ["step-0000010"] and (folder / "checkpoints" / kept[0] / "optimizer.pt").is_file()
    result = json.loads((folder / "result.json").read_text())
    assert result["checkpoints"] == "kept" and result["freed_bytes"] == 0
    assert not RunFolder(folder).is_resumable(), "finished is finished, checkpoints or not"


def test_a_resumed_sweep_skips_its_finished_runs(tmp_path, tiny_model_dir, small_world_tsv):
    from mto_studio.core.training.experiment import run_experiment
    from mto_studio.core.training.experiment_config import ExperimentConfig

    cfg = ExperimentConfig.from_dict(
        {
            "name": "disk",
            "templates": ["unsup-nat"],
            "baseline": "unsup-nat",
            "shots": ["full", "4"],
            "seeds": [0],
            "model": str(tiny_model_dir),
            "data": str(small_world_tsv),
            "test_data": str(small_world_tsv.with_name("small-test.tsv")),
            "train": {**TRAIN, "steps": 20},
        }
    )
    folder = tmp_path / "exp"
    first = list(run_experiment(cfg, folder))
    assert isinstance(first[-1], ExperimentFinished) and first[-1].status == "finished"
    runs = sorted((folder / ExperimentFolder.RUNS).iterdir())
    assert len(runs) == 2 and not any((r / "checkpoints").exists() for r in runs)
    results = [(r / "result.json").read_bytes() for r in runs]
    again = list(run_experiment(None, folder, resume=True))
    queued = [e for e in again if isinstance(e, RunQueued)]
    assert len(queued) == 2 and all(e.skipped for e in queued)
    assert not any(isinstance(e, RunStarted) for e in again)
    assert again[-1].status == "finished" and (folder / "report.md").is_file()
    assert [(r / "result.json").read_bytes() for r in runs] == results
