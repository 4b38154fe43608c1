"""Job targets for the backend tests: small generators a worker process imports by name (no torch, so a spawned
worker starts in well under a second)."""

from __future__ import annotations

import os
import time

from mto_studio.core.errors import ConfigError
from mto_studio.core.jobs.events import Progress, RunFinished, StepLogged, Stop, pause_point


def counting_job(steps: int = 5, delay_s: float = 0.0):
    """Yields a StepLogged per step; Stop ends it 'stopped' at the step it arrived, Pause waits (pause_point)."""
    for step in range(1, steps + 1):
        if delay_s:
            time.sleep(delay_s)
        command = yield StepLogged("fake", step, steps, 1.0 / step, 0.1, step, 0.0, 0.0)
        command = yield from pause_point("fake", step, command)
        if isinstance(command, Stop):
            yield RunFinished("fake", "stopped", step)
            return "stopped"
    yield RunFinished("fake", "finished", steps)
    return {"pid": os.getpid(), "steps": steps}


def failing_job(kind: str = "config"):
    yield Progress("fail", 0, 1, "about to fail")
    if kind == "config":
        raise ConfigError("the fake job's setting is wrong", "set it right")
    raise _Unpicklable("no pickle for me")


class _Unpicklable(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.handle = lambda: None  # a lambda does not pickle

    def __reduce__(self):
        raise TypeError("cannot pickle")


def hanging_job():
    """One event, then a long sleep: the test kills the worker in the meantime."""
    yield Progress("hang", 0, 1, f"pid {os.getpid()}")
    time.sleep(120)
    yield Progress("hang", 1, 1, "woke up")
