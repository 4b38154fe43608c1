"""The Ray backend's two ends away from the caller: the channel actor that carries events and commands between
the caller and a task, and the task itself (a Ray worker running a ``JobSpec``). Split from ``ray_backend``, which
connects, starts tasks and relays their events; this module imports Ray only inside functions too."""

from __future__ import annotations

import asyncio
import os
import queue
import socket
import threading
from typing import Any

from mto_studio.core.errors import ConfigError
from mto_studio.core.jobs.events import Command, Stop, WorkerStarted
from mto_studio.core.jobs.process import JobSpec, _drive, _portable, load_target

#: how long one long-poll of the channel waits for events or commands (seconds)
POLL_S = 2.0


# --- the channel between the caller and its tasks ----------------------------------------------------------------
class Channel:
    """An async Ray actor (no CPU of its own) holding, per job key, the events the task pushed (numbered, so the
    caller takes each once and in order) and the commands the caller sent. Both sides long-poll it."""

    def __init__(self) -> None:
        self.events: dict[str, dict[int, Any]] = {}
        self.commands: dict[str, dict[int, Command]] = {}
        self.changed: dict[str, asyncio.Event] = {}
        self.dropped: set[str] = set()

    def _signal(self, key: str) -> asyncio.Event:
        return self.changed.setdefault(key, asyncio.Event())

    async def push(self, key: str, first: int, items: list[Any]) -> None:
        """Events numbered ``first``, ``first`` + 1, ... (a task pushes one batch at a time, in order)."""
        if key in self.dropped:
            return
        box = self.events.setdefault(key, {})
        for offset, item in enumerate(items):
            box[first + offset] = item
        self._signal(key).set()

    async def pull(self, key: str, after: int, timeout: float) -> list[Any]:
        """The events numbered ``after`` + 1, + 2, ... that have arrived, waiting up to ``timeout`` for one."""
        return await self._wait(key, lambda: self._events_after(key, after), timeout)

    def _events_after(self, key: str, after: int) -> list[Any]:
        box = self.events.get(key, {})
        for seq in [s for s in box if s <= after]:
            del box[seq]  # the caller has them
        return _after(box, after)

    async def send(self, key: str, index: int, command: Command) -> None:
        """The caller's command number ``index`` (1, 2, ...: numbered like the events)."""
        self.commands.setdefault(key, {})[index] = command
        self._signal(key).set()

    async def receive(self, key: str, after: int, timeout: float) -> list[Command]:
        """The commands numbered ``after`` + 1, + 2, ... that have arrived, waiting up to ``timeout`` for one."""
        return await self._wait(key, lambda: _after(self.commands.get(key, {}), after), timeout)

    async def _wait(self, key: str, ready, timeout: float) -> list[Any]:
        if key in self.dropped:  # the caller has gone: nothing more will come
            await asyncio.sleep(timeout)
            return []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            items = ready()
            remaining = deadline - loop.time()
            if items or remaining <= 0:
                return items
            signal = self._signal(key)
            signal.clear()
            try:
                await asyncio.wait_for(signal.wait(), remaining)
            except TimeoutError:
                pass

    async def drop(self, key: str) -> None:
        for table in (self.events, self.commands):
            table.pop(key, None)
        self.dropped.add(key)
        self._signal(key).set()
        self.changed.pop(key, None)


def _after(box: dict[int, Any], after: int) -> list[Any]:
    """The items numbered ``after`` + 1, + 2, ... present in ``box``, up to the first gap."""
    items: list[Any] = []
    while after + 1 + len(items) in box:
        items.append(box[after + 1 + len(items)])
    return items


# --- the task's side ---------------------------------------------------------------------------------------------
def task_main(spec: JobSpec, channel, key: str, attempt: int, version: str) -> None:
    """The Ray task: say where it runs, run the job, push every event, take commands between them. Runs in a
    Ray worker that may have run other jobs before (torch stays imported: the next run starts fast)."""
    from mto_studio import __version__

    saved = {name: os.environ.get(name) for name in [*spec.env, "OMP_NUM_THREADS", "MKL_NUM_THREADS"]}
    stop = threading.Event()
    commands: queue.Queue[Command] = queue.Queue()
    pusher = _Pusher(channel, key, commands)
    try:
        if version != __version__:
            raise ConfigError(
                f"node {socket.gethostname()} has MTO Studio {__version__}, this computer {version}",
                "install the same MTO Studio version on every node of the cluster",
            )
        if spec.threads:
            for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[name] = str(spec.threads)
        os.environ.update(spec.env)
        from mto_studio.core.runtime import prepare_environment

        prepare_environment()
        threading.Thread(target=_commands, args=(channel, key, commands, stop), daemon=True).start()
        pusher.put(("event", WorkerStarted("ray", socket.gethostname(), os.getpid(), spec.run_id, attempt)))
        pusher.put(("return", _drive(load_target(spec.target)(**spec.kwargs), pusher.put, commands)))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller, typed where possible
        pusher.put(("error", _portable(exc)))
    finally:
        stop.set()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        pusher.close()  # every event is with the channel before the task ends


_END = object()


class _Pusher:
    """Sends the task's messages to the channel from a thread of its own, one call at a time, each carrying all
    that came meanwhile: the job never waits on the network, the order holds, and a fast job's events go in
    batches. The caller gone (its channel actor dead) is a Stop, as when a process worker's parent goes away."""

    def __init__(self, channel, key: str, commands: queue.Queue[Command]) -> None:
        self.channel, self.key, self.commands = channel, key, commands
        self.queue: queue.Queue[Any] = queue.Queue()
        self.thread = threading.Thread(target=self._serve, name="mto-ray-events", daemon=True)
        self.thread.start()

    def put(self, message: tuple[str, Any]) -> None:
        self.queue.put(message)

    def close(self, timeout_s: float = 60.0) -> None:
        self.queue.put(_END)
        self.thread.join(timeout_s)

    def _serve(self) -> None:
        import ray

        sent, gone = 0, False
        while True:
            items = [self.queue.get()]
            while True:
                try:
                    items.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            end = items[-1] is _END
            batch = [item for item in items if item is not _END]
            if batch and not gone:
                try:
                    ray.get(self.channel.push.remote(self.key, sent + 1, batch))
                    sent += len(batch)
                except Exception:  # noqa: BLE001 - the channel is gone: end resumably
                    gone = True
                    self.commands.put(Stop())
            if end:
                return


def _commands(channel, key: str, commands: queue.Queue[Command], stop: threading.Event) -> None:
    """Long-poll the channel for the caller's commands. The caller gone (its channel actor dead) is a Stop, as when
    a process worker's parent goes away: the run ends resumably."""
    import ray

    seen = 0
    while not stop.is_set():
        try:
            new = ray.get(channel.receive.remote(key, seen, POLL_S))
        except Exception:  # noqa: BLE001 - the channel is gone: end resumably
            commands.put(Stop())
            return
        seen += len(new)
        for command in new:
            commands.put(command)
