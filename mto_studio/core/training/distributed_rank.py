"""Inside one rank of a multi-device run (``core.training.distributed`` starts them): the Accelerator and its
process groups, the command every rank acts on at a step boundary, rank 0's job (the ordinary training loop) and the
other ranks' (:func:`follow`: the same steps, nothing evaluated or written)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Generator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from mto_studio.core.errors import MtoError
from mto_studio.core.jobs.events import Command, Event, Pause, Stop, pause_point
from mto_studio.core.jobs.process import JobSpec

RANK_TARGET = "mto_studio.core.training.distributed_rank:rank_job"
#: seconds a training collective waits for the other ranks (a rank that died is noticed at once by the launcher)
TIMEOUT_S = float(os.environ.get("MTO_DDP_TIMEOUT_S", "600"))
#: how long ranks wait for rank 0's command (while it evaluates, writes a checkpoint or is paused)
CONTROL_TIMEOUT = timedelta(hours=24)
#: a job's events, ending with a value (how the rank or the run ended)
Stream = Generator[Event, Command | None, Any]
_CODES: dict[type | None, int] = {type(None): 0, Stop: 1, Pause: 2}


@dataclass
class Ranks:
    """This process's place in a multi-device run: its rank, the world, the Accelerator and the device."""

    rank: int
    world: int
    strategy: str
    accelerator: Any
    device: str
    control: Any  # a gloo process group for commands (works whatever the training backend)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def info(self) -> dict[str, Any]:
        """What config.json / environment.json / RunStarted record about the run's devices."""
        backend = "gloo" if self.device == "cpu" else "nccl"
        return {"devices": self.world, "strategy": self.strategy, "process_group": backend}

    def agree(self, command: Command | None) -> Command | None:
        """Rank 0's command at this step boundary, on every rank (Stop, Pause or None)."""
        import torch
        import torch.distributed as dist

        code = torch.tensor([_CODES.get(type(command), 0)], dtype=torch.int64)
        dist.broadcast(code, src=0, group=self.control)
        return {1: Stop(), 2: Pause()}.get(int(code.item()))

    def pause_point(self, run_id: str, step: int, command: Command | None) -> Stream:
        """``pause_point`` for all ranks: rank 0 pauses (yielding Paused/Resumed) while the others wait for its
        decision; returns the command all ranks act on."""
        command = self.agree(command)
        if isinstance(command, Pause):
            if self.main:
                command = yield from pause_point(run_id, step, command)
            command = self.agree(command if self.main else None)
        return command

    def failed(self, exc: BaseException) -> bool:
        """A collective broke (another rank is gone): the run is interrupted, not failed; the launcher says which."""
        return peer_failure(exc)

    def runner(self, run):
        from mto_studio.core.training.distributed_step import ShardedStepRunner

        return ShardedStepRunner(run, run.precision, self)


def peer_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective that failed because another rank is gone or stopped answering."""
    import torch.distributed as dist

    words = ("gloo", "nccl", "connection reset", "connection closed", "timed out", "broken pipe")
    return isinstance(exc, dist.DistError) or (
        isinstance(exc, RuntimeError) and any(w in str(exc).lower() for w in words)
    )


# --- inside a rank ------------------------------------------------------------------------------------------------
def init_ranks(rank: int, devices: int, strategy: str, kind: str) -> Ranks:
    """The Accelerator (process group: gloo on the CPU, nccl on CUDA, with a timeout) and a gloo group for commands."""
    import torch.distributed as dist
    from accelerate import Accelerator  # type: ignore[import-untyped]
    from accelerate.utils import InitProcessGroupKwargs  # type: ignore[import-untyped]

    cpu = kind == "cpu"
    group = InitProcessGroupKwargs(backend="gloo" if cpu else "nccl", timeout=timedelta(seconds=TIMEOUT_S))
    accelerator = Accelerator(cpu=cpu, mixed_precision="no", kwargs_handlers=[group])
    if accelerator.num_processes != devices:
        raise RuntimeError(f"Accelerate started {accelerator.num_processes} processes, not {devices}")
    control = dist.new_group(backend="gloo", timeout=CONTROL_TIMEOUT)
    device = "cpu" if cpu else str(accelerator.device)
    return Ranks(rank, devices, strategy, accelerator, device, control)


def rank_job(
    config: dict[str, Any] | None,
    folder: str,
    *,
    resume: bool,
    rank: int,
    devices: int,
    strategy: str,
    kind: str,
) -> Stream:
    """One rank's job: rank 0 trains and writes the run (its events are the run's), the others follow."""
    import torch.distributed as dist

    from mto_studio.core.training.config import TrainConfig
    from mto_studio.core.training.loop import train
    from mto_studio.core.training.run_setup import saved_config

    ranks = init_ranks(rank, devices, strategy, kind)
    try:
        if ranks.main:
            cfg = None if resume or config is None else TrainConfig.from_dict(config)
            yield from train(cfg, folder, resume=resume, dist=ranks)
            return "rank 0"  # how the run ended is its last event
        cfg = saved_config(Path(folder)) if resume else TrainConfig.from_dict(config or {})
        return (yield from follow(cfg, Path(folder), resume=resume, ranks=ranks))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def follow(cfg, run_dir: Path, *, resume: bool, ranks: Ranks) -> Stream:
    """A rank other than 0: the same steps as rank 0 (its shard of every batch) and the same command at every step
    boundary; no evaluation, nothing written. Returns how it ended."""
    from mto_studio.core.store.checkpoint import latest_checkpoint, load_checkpoint
    from mto_studio.core.store.run_folder import RunFolder
    from mto_studio.core.training.run_setup import RunSetup

    run = RunSetup(cfg, run_dir, dist=ranks)
    step = 0
    found = latest_checkpoint(run_dir / RunFolder.CHECKPOINTS) if resume else None
    if found is not None:
        state = load_checkpoint(found, model=run.method.module, optimizer=run.optimizer, scheduler=run.scheduler)
        step = int(state["step"])
    runner = ranks.runner(run)
    run.method.module.train()
    while step < run.cfg.steps:
        _, bad = runner.step(step, lambda tokens: None)
        if bad is not None:
            return "failed"  # the loss is the whole batch's: rank 0 fails at the same step
        step += 1
        command = yield from ranks.pause_point(run_dir.name, step, None)
        if isinstance(command, Stop):
            return "stopped"
    return "finished"


def follower_main(spec: JobSpec, ends_out) -> None:
    """A rank other than 0, in its own process: its events go nowhere; how it ended goes to the launcher."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches rank 0 as Stop, through the launcher
    if spec.threads:
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[key] = str(spec.threads)
    os.environ.update(spec.env)
    from mto_studio.core.runtime import prepare_environment

    prepare_environment()
    generator = rank_job(**spec.kwargs)
    try:
        while True:
            next(generator)
    except StopIteration as done:
        ends_out.send(done.value)
    except MtoError as exc:
        ends_out.send(exc)  # bad input: the launcher raises it as is
        raise SystemExit(1) from None
    except Exception as exc:
        if not peer_failure(exc):
            raise
        print(f"mto-studio: rank {spec.kwargs['rank']} stops: another rank is gone", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        ends_out.close()
