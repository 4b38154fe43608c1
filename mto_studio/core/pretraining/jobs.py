"""Pre-training as a backend executes it: a target a worker process imports by name and calls with plain data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mto_studio.core.jobs.events import EventStream
from mto_studio.core.jobs.process import JobSpec

PRETRAIN_TARGET = "mto_studio.core.pretraining.jobs:pretrain_job"


def pretrain_job(config: dict[str, Any], out_dir: str, *, resume: bool = False) -> EventStream:
    from mto_studio.core.pretraining.objective_lab import PretrainConfig, pretrain

    return (yield from pretrain(PretrainConfig.from_dict(config), out_dir, resume=resume))


def pretrain_spec(config: dict[str, Any], out_dir: str | Path, *, resume: bool = False) -> JobSpec:
    return JobSpec(PRETRAIN_TARGET, {"config": config, "out_dir": str(out_dir), "resume": resume}, name="pretrain")
