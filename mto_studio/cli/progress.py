"""Drive an event generator from the terminal: a progress bar with ETA, Ctrl-C stops cleanly (checkpoint)."""

from __future__ import annotations

import json
import sys

from mto_studio.core.jobs.events import (
    CheckpointSaved,
    EvalDone,
    EventStream,
    ExperimentFinished,
    ExperimentStarted,
    RunFailed,
    RunFinished,
    RunQueued,
    RunStarted,
    StepLogged,
    Stop,
    TableUpdated,
)


class EventPrinter:
    """Consumes events: JSON lines (``as_json``) or a tqdm bar over all steps plus one line per milestone."""

    def __init__(self, as_json: bool = False, total_steps: int | None = None, unit: str = "step") -> None:
        self.as_json = as_json
        self.bar = None
        self.total_steps = total_steps
        self.unit = unit
        self.offset = 0  # steps of earlier runs (experiments)
        self.run_total = 0
        self.last: dict = {}

    def _bar(self):
        if self.bar is None and not self.as_json:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total_steps,
                unit=self.unit,
                dynamic_ncols=True,
                file=sys.stderr,
                smoothing=0.1,
                mininterval=0.5,
            )
        return self.bar

    def note(self, text: str) -> None:
        if self.as_json:
            return
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def __call__(self, event) -> None:
        if self.as_json:
            print(json.dumps(event.to_dict(), default=str, ensure_ascii=False), flush=True)
            return
        if isinstance(event, ExperimentStarted):
            self.note(f"experiment '{event.name}': {event.total_runs} runs → {event.folder}")
        elif isinstance(event, RunQueued):
            word = "done already" if event.skipped else "starting"
            self.note(f"[{event.index + 1}/{event.total}] {event.label} ({word})")
        elif isinstance(event, RunStarted):
            self.run_total = event.total_steps
            if self.total_steps is None:
                self.total_steps = event.total_steps
            bar = self._bar()
            bar.n = self.offset + event.resumed_from
            bar.refresh()
            if event.resumed_from:
                self.note(f"resumed at step {event.resumed_from}")
        elif isinstance(event, StepLogged):
            bar = self._bar()
            bar.n = self.offset + event.step
            self.last["loss"] = f"{event.loss:.3f}"
            bar.set_postfix(self.last, refresh=False)
            bar.refresh()
        elif isinstance(event, EvalDone):
            shown = {
                k: round(v, 3) for k, v in event.metrics.items() if k in ("rougeL", "exact_match") or k.endswith("_em")
            }
            self.last[{"validation": "val", "zero-shot": "zs"}.get(event.split, event.split)] = shown.get(
                "rougeL", next(iter(shown.values()), "")
            )
            what = (
                f"{event.split} score of the kept weights (step {event.step})"
                if event.final
                else f"{event.split} at step {event.step}"
            )
            self.note(f"  {what}: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
        elif isinstance(event, CheckpointSaved) and event.reason in ("stop", "final"):
            self.note(f"  saved {event.path}")
        elif isinstance(event, RunFinished):
            self.offset += self.run_total
            shown = {k: round(v, 3) for k, v in event.metrics.items() if isinstance(v, float)}
            scored = f" ({event.score_label})" if event.score_label else ""
            self.note(f"  run {event.status} at step {event.step} in {event.elapsed_s:.0f} s{scored}: {shown}")
        elif isinstance(event, RunFailed):
            self.offset += self.run_total
            self.note(f"  run FAILED: {event.reason}")
        elif isinstance(event, TableUpdated):
            self.note(f"  {event.finished_runs}/{event.total_runs} runs finished; table updated")
        elif isinstance(event, ExperimentFinished):
            self.note(f"experiment {event.status}: report {event.report}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def drive(events: EventStream, printer: EventPrinter):
    """Iterate ``events``; on Ctrl-C send Stop() so the work checkpoints and ends resumably. Returns the last
    event."""
    last = None
    command = None
    stopping = False
    try:
        while True:
            try:
                event = events.send(command)
            except StopIteration:
                break
            except KeyboardInterrupt:
                if stopping:
                    raise
                stopping = True
                printer.note("stopping after the current step (Ctrl-C again to abort without a checkpoint)…")
                command = Stop()
                continue
            command = Stop() if stopping else None
            last = event
            printer(event)
    except KeyboardInterrupt:
        printer.note("stopping after the current step (Ctrl-C again to abort without a checkpoint)…")
        try:
            while True:
                event = events.send(Stop())
                last = event
                printer(event)
        except StopIteration:
            pass
    finally:
        printer.close()
    return last
