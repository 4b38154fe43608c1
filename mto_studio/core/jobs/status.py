"""The status of a run or an experiment: one enum, so a status is never a loose string."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"  # by the user, with a checkpoint: resumable
    INTERRUPTED = "interrupted"  # the process ended mid-run: resumable from its last checkpoint
    FAILED = "failed"  # the reason is stored
    DIVERGED = "diverged"  # the loss ran far above its start, or the predictions collapsed; the reason is stored
    SKIPPED = "skipped"  # already finished in an earlier session

    @property
    def can_resume(self) -> bool:
        return self in (RunStatus.STOPPED, RunStatus.INTERRUPTED, RunStatus.RUNNING)

    @classmethod
    def parse(cls, value: object) -> RunStatus | None:
        try:
            return cls(str(value))
        except ValueError:
            return None
