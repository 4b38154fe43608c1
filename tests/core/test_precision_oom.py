"""How a step computes and how it fails: out of memory ends the run 'failed' with what to change (CLI exit 1),
bf16 autocast and gradient checkpointing train on the CPU, fp16 there is refused, grad_accum splits the batch."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mto_studio.core.errors import ConfigError
from mto_studio.core.jobs.events import RunFailed, RunFinished
from mto_studio.core.training.config import TrainConfig
from mto_studio.core.training.loop import train

REPO = Path(__file__).resolve().parents[2]
HINT = "lower batch_size, use grad_accum, LoRA, or gradient_checkpointing"


def _config(model_dir, data_path, **changes) -> TrainConfig:
    base = dict(model=str(model_dir), data=str(data_path), template="unsup-nat", steps=6, batch_size=8, lr=3e-3,
                warmup_steps=2, eval_every=0, validation_heads=2, threads=1)  # fmt: skip
    return TrainConfig(**{**base, **changes})


def memory_error_at_step(step: int):
    """Make MethodRun.forward raise MemoryError at its ``step``-th call (grad_accum 1: optimizer step ``step``)."""
    from mto_studio.core.training import methods

    real = methods.MethodRun.forward

    def forward(self, *args):
        self._test_calls = getattr(self, "_test_calls", 0) + 1
        if self._test_calls == step:
            raise MemoryError()
        return real(self, *args)

    methods.MethodRun.forward = forward
    return real


def test_out_of_memory_ends_the_run_failed_with_the_remedies(tmp_path, tiny_model_dir, small_world_tsv, monkeypatch):
    from mto_studio.core.training import methods

    monkeypatch.setattr(methods.MethodRun, "forward", methods.MethodRun.forward)  # restored after the test
    memory_error_at_step(3)
    events = list(train(_config(tiny_model_dir, small_world_tsv), tmp_path / "run"))
    assert isinstance(events[-1], RunFailed)
    reason = events[-1].reason
    assert reason.startswith("out of memory at step 3 (MemoryError) with batch_size 8") and HINT in reason, reason
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["status"] == "failed" and result["reason"] == reason


def test_the_cli_exits_1_on_out_of_memory_and_says_why(tmp_path, tiny_model_dir, small_world_tsv):
    code = (
        "import sys; from tests.core.test_precision_oom import memory_error_at_step; memory_error_at_step(2); "
        "from mto_studio.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    args = ["train", "--model", str(tiny_model_dir), "--data", str(small_world_tsv), "--steps", "4", "--eval-every",
            "0", "--method", "lora", "--out", str(tmp_path / "run")]  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=240, cwd=REPO)
    assert done.returncode == 1, done.stderr
    (said,) = [line for line in done.stderr.splitlines() if line.startswith("mto-studio: ")]
    assert said.startswith("mto-studio: run failed: out of memory at step 2"), said
    assert "use grad_accum, or gradient_checkpointing" in said and "LoRA" not in said  # already LoRA


def test_bf16_autocast_and_checkpointing_train_on_the_cpu(tmp_path, tiny_model_dir, small_world_tsv):
    import torch

    events = list(train(_config(tiny_model_dir, small_world_tsv, precision="bf16", gradient_checkpointing=True,
                                method="lora"), tmp_path / "run"))  # fmt: skip
    assert isinstance(events[-1], RunFinished), events[-1]
    assert torch.isfinite(torch.tensor(events[-1].metrics["loss"]))
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["precision"] == "bf16" and saved["gradient_checkpointing"] is True
    auto = list(train(_config(tiny_model_dir, small_world_tsv, steps=2), tmp_path / "auto"))
    assert isinstance(auto[-1], RunFinished)
    assert json.loads((tmp_path / "auto" / "config.json").read_text())["precision"] == "fp32"  # auto on the CPU


def test_fp16_on_the_cpu_is_refused_before_anything_is_written(tmp_path, tiny_model_dir, small_world_tsv):
    with pytest.raises(ConfigError, match="precision fp16 needs a GPU"):
        next(train(_config(tiny_model_dir, small_world_tsv, precision="fp16"), tmp_path / "run"))
    assert not (tmp_path / "run" / "config.json").exists()


def test_grad_accum_splits_each_step_into_micro_batches(tmp_path, tiny_model_dir, small_world_tsv, monkeypatch):
    from mto_studio.core.training import methods

    real, sizes = methods.MethodRun.forward, []

    def forward(self, ids, *rest):
        sizes.append(ids.shape[0])
        return real(self, ids, *rest)

    monkeypatch.setattr(methods.MethodRun, "forward", forward)
    events = list(train(_config(tiny_model_dir, small_world_tsv, steps=3, grad_accum=4), tmp_path / "run"))
    assert isinstance(events[-1], RunFinished) and events[-1].step == 3
    assert sizes == [2] * 12  # 3 steps × 4 micro-batches of 8 / 4
    # and the estimate counts the activations of one micro-batch, not of the whole batch
    from mto_studio.core.training.estimate import estimate_run, model_shape

    shape = model_shape(str(tiny_model_dir))
    whole = estimate_run(_config(tiny_model_dir, small_world_tsv), shape, device="cpu").memory_parts["activations"]
    split = estimate_run(_config(tiny_model_dir, small_world_tsv, grad_accum=4), shape, device="cpu")
    assert split.memory_parts["activations"] < whole / 3
