"""One run on several devices: data-parallel training through Hugging Face Accelerate.

:func:`distributed_train` starts ``devices`` ranks as spawned processes (CPU: the gloo backend; CUDA: nccl, one GPU
per rank). Rank 0 runs the ordinary training loop (``core.training.loop.train``) as a ``process``-backend job, so its
events reach the caller live and Stop/Pause/Resume reach it as for any job; ranks 1..N-1 run
``distributed_rank.follow``: the same steps without evaluation or writing. Every rank takes its shard of each global
batch (the global batch is the run's ``batch_size``: examples ``rank::N`` of it), and each shard's loss is weighted by
its share of the batch's target tokens, so the averaged gradient (DDP) equals the one-process gradient of the whole
batch and the loss curve matches one process up to float rounding. Rank 0 writes everything (checkpoints, metrics,
results) and evaluates; with identical weights on every rank that is the whole run's state. At every step boundary
rank 0's command is broadcast (``Ranks.agree``), so all ranks stop at the same step and one checkpoint is written; a
resumed run loads that checkpoint on every rank. A rank that dies ends the job with WorkerLostError naming it;
collectives time out after ``MTO_DDP_TIMEOUT_S`` (600 s), the command broadcast (which waits while rank 0 evaluates
or is paused) after 24 hours. ``strategy="fsdp"`` builds Accelerate's FSDP plugin (FSDP2, full shards) and is
refused on the CPU, where Accelerate does not shard, and for now on CUDA too (its sharded checkpoints are not
written yet).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from mto_studio.core.errors import ConfigError, MtoError
from mto_studio.core.jobs.events import RunFinished, WorkerStarted
from mto_studio.core.jobs.process import JobSpec, WorkerLostError, describe_exit, run_in_process
from mto_studio.core.training.distributed_rank import RANK_TARGET, Stream, follower_main, peer_failure

STRATEGIES = ("ddp", "fsdp")
#: how long the launcher lets the other ranks end by themselves once rank 0 has ended
GRACE_S = 10.0


def check_request(devices: int, strategy: str, device: str) -> str:
    """The kind of device the ranks run on ('cpu' or 'cuda'), or ConfigError for a request that cannot run."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy '{strategy}'", "use ddp or fsdp")
    if devices < 1:
        raise ConfigError(f"devices must be at least 1, got {devices}", "use --devices 2 or more")
    import torch

    gpus = torch.cuda.device_count()
    kind = "cuda" if device.startswith("cuda") or (device == "auto" and gpus >= devices) else "cpu"
    if kind == "cuda" and gpus < devices:
        raise ConfigError(
            f"{devices} devices asked for, but {gpus} CUDA GPU(s) are visible (one GPU per rank)",
            f"use --devices {gpus}" if gpus > 1 else "train on the CPU with device cpu",
        )
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise ConfigError(f"training on several devices runs on CPUs or CUDA GPUs, not '{device}'", "use device auto")
    if strategy == "fsdp":
        fsdp_plugin()  # constructs, so a broken Accelerate install fails here
        if kind == "cpu":
            raise ConfigError(
                "strategy fsdp shards a model across CUDA GPUs; Accelerate does not shard on the CPU",
                "use --strategy ddp on the CPU",
            )
        raise ConfigError(
            "strategy fsdp is not supported yet: MTO Studio's checkpoints do not gather sharded weights",
            "use --strategy ddp (each GPU holds the whole model), or LoRA / gradient_checkpointing to fit one GPU",
        )
    return kind


def fsdp_plugin():
    """Accelerate's FSDP plugin as a run would use it: FSDP2, parameters, gradients and optimizer state sharded,
    full (gathered) state dicts for checkpoints."""
    from accelerate.utils import FullyShardedDataParallelPlugin  # type: ignore[import-untyped]

    return FullyShardedDataParallelPlugin(fsdp_version=2, reshard_after_forward=True, state_dict_type="FULL_STATE_DICT")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _saved(folder: str) -> dict[str, Any]:
    from mto_studio.core.training.run_setup import saved_config

    return saved_config(Path(folder)).to_dict()


def distributed_train(
    config: dict[str, Any] | None, folder: str, *, resume: bool = False, devices: int = 2, strategy: str = "ddp"
) -> Stream:
    """Train one run into ``folder`` on ``devices`` ranks (see the module docstring); the events are rank 0's, as
    ``train_job`` yields them (first WorkerStarted, then RunStarted … RunFinished/RunFailed); commands sent in reach
    every rank at the next step boundary. ``resume=True`` continues from the folder's last checkpoint (``config``
    is then ignored). ``devices=1`` is the ordinary run in this process. Returns ``{"ranks": [end of each rank]}``
    ('finished', 'stopped', 'failed', or 'ended' for a rank stopped by the launcher after rank 0 ended). Raises
    ConfigError for a request that cannot run, WorkerLostError when a rank dies (the run stays resumable)."""
    from mto_studio.core.jobs.status import RunStatus
    from mto_studio.core.store.run_folder import RunFolder
    from mto_studio.core.training.config import TrainConfig
    from mto_studio.core.training.precision import available_cores

    cfg = _saved(folder) if resume else TrainConfig.from_dict(config or {}).to_dict()
    kind = check_request(devices, strategy, str(cfg["device"]))
    if devices == 1:  # the ordinary run, in this thread
        from mto_studio.core.training.jobs import train_job

        return {"ranks": [(yield from _last_status(train_job(config, folder, resume=resume)))]}
    micro = cfg["batch_size"] // cfg["grad_accum"]
    if micro < devices:
        raise ConfigError(
            f"a batch of {micro} examples cannot be shared by {devices} devices",
            f"use a batch_size of at least {devices * cfg['grad_accum']} (a multiple of {devices} is best)",
        )
    if resume and RunFolder(Path(folder)).status() is RunStatus.FINISHED:
        raise ConfigError(f"the run in {folder} has already finished", "start a new run to train again")
    threads = int(cfg["threads"] or max(1, available_cores() // devices))
    if not resume:
        config = {**(config or {}), "threads": threads}
    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "WORLD_SIZE": str(devices)}
    env["LOCAL_WORLD_SIZE"] = str(devices)
    context = mp.get_context("spawn")
    others, ends = [], []
    for rank in range(1, devices):
        ends_in, ends_out = context.Pipe(duplex=False)
        spec = _rank_spec(config, folder, resume, rank, devices, strategy, kind, threads, env)
        process = context.Process(target=follower_main, args=(spec, ends_out), name=f"mto-rank{rank}")
        process.start()
        ends_out.close()
        others.append(process)
        ends.append(ends_in)
    state = _Watch(others, ends)
    stream = run_in_process(_rank_spec(config, folder, resume, 0, devices, strategy, kind, threads, env))
    command = None
    last_status = "failed"
    try:
        while True:
            try:
                event = stream.send(command)
            except StopIteration:
                break
            except Exception as exc:
                raise _lost_error(exc, state, devices) from None
            if state.rank0_pid is None and isinstance(event, WorkerStarted):
                state.watch(event.pid)
            if isinstance(event, RunFinished):
                last_status = event.status
                state.ending = True
            command = yield event
        return {"ranks": [last_status, *state.finish(GRACE_S if last_status in ("finished", "stopped") else 2.0)]}
    finally:
        state.ending = True
        stream.close()
        state.finish(0.0)


def _last_status(events: Stream) -> Stream:
    """Relay ``events`` (commands go in); returns the status of its RunFinished ('failed' without one)."""
    status, command = "failed", None
    while True:
        try:
            event = events.send(command)
        except StopIteration:
            return status
        if isinstance(event, RunFinished):
            status = event.status
        command = yield event


def _lost_error(exc: Exception, state: _Watch, devices: int) -> Exception:
    """What rank 0's stream raised, said as the rank that was lost: another rank (which got rank 0 ended, or broke a
    collective), rank 0 itself, or ``exc`` unchanged when no rank was lost."""
    hint = "the run is interrupted; resume it from its last checkpoint"
    last = getattr(exc, "last", None)
    if state.recorded() is None and isinstance(exc, WorkerLostError):
        return WorkerLostError(f"rank 0 of {devices}: {exc.message}", hint, exitcode=exc.exitcode, last=last)
    lost = state.recorded() or (state.lost(wait=GRACE_S) if peer_failure(exc) else None)
    if lost is not None:
        rank, code = lost
        if isinstance(told := state.told(rank), MtoError):
            return told  # that rank's own error (bad input fails on every rank; it may have been first)
        return WorkerLostError(f"rank {rank} of {devices}: {describe_exit(code)}", hint, exitcode=code, last=last)
    if peer_failure(exc):
        return WorkerLostError(f"the ranks lost contact: {str(exc).splitlines()[0][:300]}", hint, last=last)
    return exc


def _rank_spec(config, folder, resume, rank, devices, strategy, kind, threads, env) -> JobSpec:
    rank_env = {**env, "RANK": str(rank), "LOCAL_RANK": str(rank)}
    kwargs = {"config": config, "folder": str(folder), "resume": resume, "rank": rank, "devices": devices}
    kwargs.update(strategy=strategy, kind=kind)
    return JobSpec(RANK_TARGET, kwargs, name=f"train-rank{rank}", threads=threads, env=rank_env)


class _Watch:
    """The launcher's eye on ranks 1..N-1: one that dies while rank 0 trains gets rank 0 ended (SIGTERM), which
    would otherwise wait in a collective; the stream then says which rank was lost."""

    def __init__(self, others: list, ends: list) -> None:
        self.others, self.ends, self.ending = others, ends, False
        self._told: dict[int, Any] = {}
        self.rank0_pid: int | None = None
        self._lost: tuple[int, int | None] | None = None
        self._done = threading.Event()

    def watch(self, pid: int) -> None:
        self.rank0_pid = pid
        threading.Thread(target=self._run, name="mto-rank-watch", daemon=True).start()

    def _run(self) -> None:
        from multiprocessing.connection import wait

        alive = list(self.others)
        while alive and not self._done.is_set():
            for sentinel in wait([p.sentinel for p in alive], timeout=0.5):
                process = next(p for p in alive if p.sentinel == sentinel)
                alive.remove(process)
                process.join()
                if process.exitcode and not self.ending and self._lost is None and self._rank0_alive():
                    self._lost = (self.others.index(process) + 1, process.exitcode)
                    try:
                        os.kill(self.rank0_pid or 0, signal.SIGTERM)
                    except (ProcessLookupError, PermissionError):
                        pass

    def _rank0_alive(self) -> bool:
        """False once rank 0 has died (its own death is the story then; the others fail because of it)."""
        import psutil

        time.sleep(0.5)  # rank 0 dying first takes the others' connections down a moment later
        try:
            return psutil.Process(self.rank0_pid or 0).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def recorded(self) -> tuple[int, int | None] | None:
        return self._lost

    def lost(self, wait: float) -> tuple[int, int | None] | None:
        """The first rank lost; waits up to ``wait`` s for one to end (rank 0 may fail a collective first)."""
        if self._lost is None:
            for rank, process in enumerate(self.others, 1):
                process.join(wait)
                if process.exitcode:
                    return rank, process.exitcode
        return self._lost

    def told(self, rank: int) -> Any:
        """What rank ``rank`` (1..N-1) sent when it ended: how it ended, or its error; None when nothing."""
        if rank not in self._told:
            end = self.ends[rank - 1]
            try:
                self._told[rank] = end.recv() if end.poll() else None
            except (EOFError, OSError):
                self._told[rank] = None
        return self._told[rank]

    def finish(self, grace: float) -> list[str]:
        """The other ranks' ends; those still running after ``grace`` seconds are ended ('ended')."""
        self._done.set()
        states = []
        for rank, process in enumerate(self.others, 1):
            process.join(grace)
            if process.is_alive():
                process.terminate()
                process.join(5.0)
                if process.is_alive():
                    process.kill()
                    process.join(5.0)
            told = self.told(rank)
            states.append(told if isinstance(told, str) else "ended")
        return states
