"""The ``ray`` backend: a job (``JobSpec``) runs as a Ray task on a cluster and speaks the protocol of the process
backend (``mto_studio.core.jobs.process``): the first event is WorkerStarted from where the task runs, then the
job's events stream back live, Stop/Pause/Resume reach the task between its events, the job's return value comes
back, its own errors are re-raised as their type, and a lost worker or node raises ``WorkerLostError``.

Events and commands travel through one small channel actor per connection (an async actor that takes no CPU):
the task pushes each event to it without waiting, the caller long-polls it, and commands go the other way. Ray
Client (``ray://``) has no streaming generators, so this one path serves local, ``auto`` and client clusters alike.
The task itself is the only thing that can die with a worker: the caller waits on the task's result and its next
batch of events together, so a dead worker is noticed at once, not after a time-out.

Run folders are paths: every node must see them at the same path (a shared file system); see the README."""

from __future__ import annotations

import os
import queue
import re
import socket
import threading
import uuid
from typing import Any

from mto_studio.core.errors import ConfigError, MtoError
from mto_studio.core.jobs.events import Command, Event, EventStream
from mto_studio.core.jobs.process import JobSpec, WorkerLostError, _rebuilt_error
from mto_studio.core.jobs.ray_task import POLL_S, Channel, task_main

#: the forms ``--cluster`` accepts, in the words every refusal uses
CLUSTER_FORMS = (
    "leave it out to start a local Ray cluster, 'auto' to join the cluster this computer is a node of, or "
    "'ray://HOST:PORT' to connect through Ray Client (port 10001 by default)"
)
#: how long connecting may take before it is an error (seconds)
CONNECT_TIMEOUT_S = 20.0
#: how long starting a local cluster may take (seconds)
LOCAL_START_S = 60.0
#: environment variables the driver passes on to every worker (remote nodes do not inherit this process's)
FORWARDED_ENV = (
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "MTO_ONLINE",
    "MTO_THREADS",
    "MTO_CACHE_DIR",
    "OMP_WAIT_POLICY",
    "TOKENIZERS_PARALLELISM",
)
_RAY_CLIENT = re.compile(r"^ray://(?P<host>[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})$")
_LOST_HINT = "the run is interrupted; resume it from its last checkpoint"


_lock = threading.Lock()
_state: dict[str, Any] = {"address": None, "ours": False, "channel": None, "owner": None}


class ClusterUnreachableError(MtoError):
    """The Ray cluster named by ``--cluster`` cannot be reached (not started, wrong address, a firewall)."""


def parse_cluster(cluster: str | None) -> str | None:
    """The address Ray is given: None (a local cluster), "auto" or "ray://HOST:PORT"; anything else is refused."""
    if cluster is None or not str(cluster).strip():
        return None
    value = str(cluster).strip()
    if value.lower() == "auto":
        return "auto"
    match = _RAY_CLIENT.match(value)
    if match and 0 < int(match["port"]) < 65536:
        return value
    raise ConfigError(f"unknown cluster address '{cluster}'", CLUSTER_FORMS)


def worker_env() -> dict[str, str]:
    """What every Ray worker gets in its environment: the offline and thread settings of this process, and
    MTO_BACKEND=thread (a job inside a worker runs there, it does not spawn a process of its own)."""
    env = {key: os.environ[key] for key in FORWARDED_ENV if key in os.environ}
    env["MTO_BACKEND"] = "thread"
    return env


def connect(cluster: str | None = None, *, timeout_s: float = CONNECT_TIMEOUT_S, num_cpus: int | None = None) -> None:
    """Start or join Ray once per process: None starts a local cluster (all cores, no dashboard, quiet), "auto"
    joins the cluster this node belongs to, "ray://HOST:PORT" connects through Ray Client. A second call with
    the same address reuses the connection (as does any Ray this process already started, for a local one).
    Raises ConfigError for an address of another form, ClusterUnreachableError within ``timeout_s`` when the
    cluster cannot be reached. ``num_cpus``: a local cluster's CPUs (default: this machine's cores)."""
    address = parse_cluster(cluster)
    with _lock:
        import ray

        if ray.is_initialized() and (_state["address"] == address or (address is None and not _state["ours"])):
            return
        if address is not None and address != "auto":
            _probe(address, timeout_s)  # before leaving the cluster this process is on
        if ray.is_initialized():
            _owner().call(ray.shutdown)
            _state.update(address=None, ours=False, channel=None, task=None)
        _init(address, timeout_s, num_cpus)
        _state.update(address=address, ours=True, channel=None, task=None)


def shutdown() -> None:
    """Leave the cluster (and stop a local one this process started)."""
    with _lock:
        import ray

        if ray.is_initialized():
            _owner().call(ray.shutdown)
        _state.update(address=None, ours=False, channel=None, task=None)


class _Quiet:
    """Drops Ray's start-up notes that say nothing a user of MTO Studio can act on."""

    NOISE = ("SIGTERM handler is not set", "Token authentication is enabled", "Started a local Ray instance")

    def filter(self, record) -> bool:
        return not any(part in record.getMessage() for part in self.NOISE)


def _init(address: str | None, timeout_s: float, num_cpus: int | None) -> None:
    import logging

    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    kwargs: dict[str, Any] = {
        "logging_level": logging.WARNING,
        "log_to_driver": False,
        "runtime_env": {"env_vars": worker_env()},
    }
    if address is None:
        # "local": a new cluster even where one runs already (plain ray.init() would join that one)
        kwargs.update(address="local", num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False)
    else:
        kwargs["address"] = address
    ray_logger = logging.getLogger("ray")
    for where in [ray_logger, *ray_logger.handlers]:
        if not any(isinstance(f, _Quiet) for f in where.filters):
            where.addFilter(_Quiet())
    if address is None:  # starting is not reaching: a loaded machine takes longer, and it always answers
        timeout_s = max(timeout_s, LOCAL_START_S)
    try:
        _owner().call(lambda: ray.init(**kwargs), timeout_s)
    except TimeoutError:
        _owner().calls.put((ray.shutdown, queue.Queue()))  # undo a connection that comes after we gave up
        raise _unreachable(address, f"no answer within {timeout_s:.0f} s") from None
    except MtoError:
        raise
    except Exception as error:  # noqa: BLE001 - Ray's own errors, whatever their type, mean "not reachable"
        words = str(error).strip().splitlines()
        raise _unreachable(address, words[0] if words else type(error).__name__) from error


class _Owner:
    """One thread that lives as long as the process and makes every ray.init/ray.shutdown call. A local cluster's
    processes die with the thread that started them (Linux's parent-death signal is per thread), so a GUI's
    short-lived worker thread must not be the one that starts it."""

    def __init__(self) -> None:
        self.calls: queue.Queue[tuple[Any, queue.Queue[tuple[bool, Any]]]] = queue.Queue()
        threading.Thread(target=self._serve, name="mto-ray-owner", daemon=True).start()

    def _serve(self) -> None:
        while True:
            function, answer = self.calls.get()
            try:
                answer.put((True, function()))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                answer.put((False, exc))

    def call(self, function, timeout_s: float | None = None) -> Any:
        answer: queue.Queue[tuple[bool, Any]] = queue.Queue()
        self.calls.put((function, answer))
        try:
            ok, value = answer.get(timeout=timeout_s)
        except queue.Empty:
            raise TimeoutError from None
        if not ok:
            raise value
        return value


def _owner() -> _Owner:
    if _state.get("owner") is None:
        _state["owner"] = _Owner()
    return _state["owner"]


def _probe(address: str, timeout_s: float) -> None:
    """Ray Client retries an unanswered address for about 30 s; a plain TCP connection says at once whether
    anything listens there."""
    match = _RAY_CLIENT.match(address)
    assert match is not None
    host, port = match["host"].strip("[]"), int(match["port"])
    try:
        socket.create_connection((host, port), timeout=min(timeout_s, 5.0)).close()
    except OSError as exc:
        raise _unreachable(address, exc.strerror or str(exc)) from None


def _unreachable(address: str | None, why: str) -> ClusterUnreachableError:
    if address is None:
        return ClusterUnreachableError(
            f"could not start a local Ray cluster ({why})",
            "check that Ray is installed correctly, or run on this computer (--backend process in the CLI)",
        )
    if address == "auto":
        return ClusterUnreachableError(
            f"no running Ray cluster found on this computer for --cluster auto ({why})",
            "start one with 'ray start --head' (or on a node of the cluster), or give ray://HOST:PORT",
        )
    return ClusterUnreachableError(
        f"cannot reach the Ray cluster at {address} ({why})",
        "start the cluster's head node ('ray start --head' serves Ray Client on port 10001) and check the address, "
        "the port and any firewall between here and there; a cluster with token authentication also needs "
        "RAY_AUTH_MODE=token and its token (RAY_AUTH_TOKEN) set here",
    )


def cluster_summary(cluster: str | None, timeout_s: float = 10) -> dict[str, Any]:
    """For a connection check: the address, Ray's version, the nodes alive and the CPUs and GPUs in total.
    Raises ClusterUnreachableError (or ConfigError for a bad address) like ``connect``."""
    connect(cluster, timeout_s=timeout_s)
    import ray

    nodes = [node for node in ray.nodes() if node.get("Alive")]
    resources = ray.cluster_resources()
    return {
        "address": _state["address"] or "local",
        "ray_version": ray.__version__,
        "nodes": len(nodes),
        "hosts": sorted({str(node.get("NodeManagerHostname") or node.get("NodeManagerAddress")) for node in nodes}),
        "cpus": float(resources.get("CPU", 0.0)),
        "gpus": float(resources.get("GPU", 0.0)),
    }


def _channel():
    import ray

    if _state["channel"] is None:
        actor = ray.remote(Channel).options(num_cpus=0, max_concurrency=10_000)
        _state["channel"] = actor.remote()
    return _state["channel"]


def _task_options(spec: JobSpec, num_cpus: float | None, num_gpus: float) -> dict[str, Any]:
    options: dict[str, Any] = {
        "num_cpus": num_cpus if num_cpus is not None else float(spec.threads or 1),
        "num_gpus": num_gpus or _gpus(spec),
        "max_retries": 0,  # a lost run starts again from its checkpoint (resume="auto"), not from scratch
        "retry_exceptions": False,
        "name": f"mto-{spec.name}" + (f"-{spec.run_id}" if spec.run_id else ""),
    }
    return options


def _gpus(spec: JobSpec) -> float:
    """The GPUs the task reserves (Ray hides the others from it): what the spec asks for, checked against the
    cluster, so that a run never waits forever for a GPU the cluster does not have."""
    import ray

    have = float(ray.cluster_resources().get("GPU", 0))
    if spec.gpus is None:
        return 1.0 if have >= 1 else 0.0
    if spec.gpus > have:
        raise ConfigError(
            f"the run asks for {spec.gpus:g} GPU(s) but the Ray cluster has {have:g}",
            "train on the CPU (--device cpu or auto), or add GPU nodes to the cluster",
        )
    return float(spec.gpus)


def run_on_ray(
    spec: JobSpec,
    cluster: str | None = None,
    *,
    num_cpus: float | None = None,
    num_gpus: float = 0,
    attempt: int = 1,
) -> EventStream:
    """Run ``spec`` as a Ray task (``num_cpus`` defaults to ``spec.threads`` or 1) and relay its events; commands
    sent in reach the task between its events. Closing this generator (an abort) cancels the task by force; its
    last periodic checkpoint stays valid. ``attempt`` > 1 marks a run started again after a lost worker. A
    malformed ``cluster`` is refused here (ConfigError); connecting happens at the first event."""
    parse_cluster(cluster)
    return _relay(spec, cluster, num_cpus, num_gpus, attempt)


def _relay(spec: JobSpec, cluster: str | None, num_cpus: float | None, num_gpus: float, attempt: int) -> EventStream:
    import ray
    from ray import exceptions as rx

    from mto_studio import __version__

    connect(cluster)
    channel = _channel()
    key = uuid.uuid4().hex
    if _state.get("task") is None:
        _state["task"] = ray.remote(task_main)
    done = (
        _state["task"]
        .options(**_task_options(spec, num_cpus, num_gpus))
        .remote(spec, channel, key, attempt, __version__)
    )
    sent: Command | None = None
    received = sent_count = 0
    last: Event | None = None
    finished = False
    try:
        command: Command | None = None
        while True:
            pull = channel.pull.remote(key, received, POLL_S)
            ready, _ = ray.wait([pull, done], num_returns=1)
            if ready[0] == done and not ray.wait([pull], timeout=0)[0]:
                _raise_if_lost(done, last)  # the task ended: its pushes are all in; the pull has them
            try:
                items = ray.get(pull)
            except rx.RayActorError as error:  # the channel died: the next run gets a new one
                _state["channel"] = None
                raise WorkerLostError(describe_ray_loss(error), _LOST_HINT, last=last) from None
            for kind, payload in items:
                received += 1
                if kind == "event":
                    last = payload
                    command = yield payload
                    if command is not None and type(command) is not type(sent):
                        sent, sent_count = command, sent_count + 1
                        channel.send.remote(key, sent_count, command)
                elif kind == "return":
                    finished = True
                    return payload
                else:
                    finished = True
                    raise _rebuilt_error(payload)
            if not items and ray.wait([done], timeout=0)[0]:
                _raise_if_lost(done, last)
                raise WorkerLostError("the Ray task ended without sending its result", _LOST_HINT, last=last)
    finally:
        if not finished:
            ray.cancel(done, force=True)
        channel.drop.remote(key)


def _raise_if_lost(done, last: Event | None) -> None:
    """The task's own result: None when it ended normally; a Ray error becomes WorkerLostError (or, for the task's
    code failing outside the job, the error itself)."""
    import ray
    from ray import exceptions as rx

    try:
        ray.get(done)
    except rx.RayTaskError as error:
        cause = error.cause
        if isinstance(cause, ModuleNotFoundError) and "mto_studio" in str(cause):
            raise ConfigError(
                "a Ray worker cannot import mto_studio",
                "install the same MTO Studio version on every node of the cluster (pip install 'mto-studio[cluster]')",
            ) from None
        if isinstance(cause, BaseException):
            raise cause from None
        raise
    except (rx.RayError, ConnectionError) as error:
        raise WorkerLostError(describe_ray_loss(error), _LOST_HINT, last=last) from None


def describe_ray_loss(error: BaseException) -> str:
    """How a Ray task was lost, in words a user can act on."""
    from ray import exceptions as rx

    if isinstance(error, rx.OutOfMemoryError):
        return "Ray's memory monitor killed the worker: the node ran out of memory"
    if isinstance(error, rx.NodeDiedError | rx.LocalRayletDiedError):
        return "the Ray node running the job died or left the cluster"
    if isinstance(error, rx.WorkerCrashedError):
        return "the Ray worker running the job died (killed, out of memory, or a crash in native code)"
    if isinstance(error, rx.OwnerDiedError | rx.ObjectLostError):
        return "the job's results were lost with a Ray node"
    if isinstance(error, rx.RayActorError):
        return "the channel to the Ray task was lost (its actor died)"
    if isinstance(error, rx.TaskCancelledError):
        return "the Ray task was cancelled"
    if isinstance(error, ConnectionError):
        return "the connection to the Ray cluster was lost"
    first = str(error).strip().splitlines()
    return f"Ray lost the job ({type(error).__name__}: {first[0] if first else ''})"
