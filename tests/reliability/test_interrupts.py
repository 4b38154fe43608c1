"""Ctrl-C (SIGINT) and SIGTERM on the CLI's long commands. In real `python -m mto_studio` processes: the first signal
stops the work at its next event (the step ends, a checkpoint is written, the run ends 'stopped', one "resume with"
line on stderr, exit 130) and `--resume` reaches exactly what an uninterrupted run reaches; a second Ctrl-C aborts at
once (exit 130, the store row marked 'interrupted', the last checkpoint resumes to the same result). In this process:
`analyze` stops at a real SIGINT and writes nothing; the driver restores the signal handlers; work that ends without
its final event is never reported as a success."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mto_studio.core.store import RunStore

RECIPE = Path(__file__).resolve().parents[2] / "resources" / "recipes" / "mto-tiny.toml"
STEPS = 100
#: one configuration for every train run here, so each resumed run can be compared with one uninterrupted run
TRAIN = ["--template", "unsup-nat", "--steps", str(STEPS), "--eval-every", "20", "--batch-size", "8",
         "--set", "checkpoint_every=20", "--set", "validation_heads=2"]  # fmt: skip


def _sigint_as_usual() -> None:
    # a test session started in the background of a non-interactive shell passes SIGINT on ignored; a user's
    # terminal does not
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Child:
    """`python -m mto_studio ARGS`, its stdout (JSON events with --json) and stderr collected as they come."""

    def __init__(self, *args: object) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mto_studio", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_sigint_as_usual,
        )
        self._chunks: dict[str, list[bytes]] = {"out": [], "err": []}
        self._readers = [
            threading.Thread(target=self._pump, args=(stream, self._chunks[name]), daemon=True)
            for name, stream in (("out", self.process.stdout), ("err", self.process.stderr))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _pump(stream, sink: list[bytes]) -> None:
        for chunk in iter(lambda: os.read(stream.fileno(), 65536), b""):
            sink.append(chunk)

    @property
    def stdout(self) -> str:
        return b"".join(self._chunks["out"]).decode(errors="replace")

    @property
    def stderr(self) -> str:
        return b"".join(self._chunks["err"]).decode(errors="replace")

    def events(self) -> list[dict]:
        lines = self.stdout.splitlines()
        if lines and not self.stdout.endswith("\n"):
            lines.pop()  # a line still being written
        return [json.loads(line) for line in lines if line.startswith("{")]

    def wait_for(self, what: str, predicate: Callable[[Child], bool], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return
            if self.process.poll() is not None:
                for reader in self._readers:
                    reader.join(10)
                if predicate(self):
                    return
                break
            time.sleep(0.002)
        self.process.kill()
        raise AssertionError(f"never saw {what}; exit {self.process.wait()}; stderr: {self.stderr[-3000:]}")

    def send(self, number: int = signal.SIGINT) -> None:
        self.process.send_signal(number)

    def finish(self, timeout: float = 240) -> int:
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(10)
        return code


def seen(kind: str, **fields) -> Callable[[Child], bool]:
    """A predicate: the child has printed a ``kind`` event, with ``step`` at least ``min_step`` if given."""
    low = fields.pop("min_step", None)

    def check(child: Child) -> bool:
        return any(
            e["event"] == kind and (low is None or e["step"] >= low) and all(e.get(k) == v for k, v in fields.items())
            for e in child.events()
        )

    return check


def in_second_run_at_step(step: int) -> Callable[[Child], bool]:
    def check(child: Child) -> bool:
        events = child.events()
        starts = [i for i, e in enumerate(events) if e["event"] == "RunQueued" and e["index"] == 1]
        return bool(starts) and any(e["event"] == "StepLogged" and e["step"] >= step for e in events[starts[0] :])

    return check


def outcome(run_dir: Path) -> dict:
    """What a run reached, without wall times: result, learning curve, evaluations, predictions, weights."""
    result = json.loads((run_dir / "result.json").read_text())
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    curve = {e["step"]: e["loss"] for e in events if e["event"] == "StepLogged"}
    evaluations = {(e["step"], e["split"], e["final"]): e["metrics"] for e in events if e["event"] == "EvalDone"}
    weights = {p.name: p.read_bytes() for p in run_dir.glob("model/*.safetensors")}
    assert weights, f"no saved weights in {run_dir}"
    keys = ("status", "step", "metrics", "per_relation", "best_step", "best_validation_rougeL", "final_loss")
    return {
        "result": {k: result[k] for k in keys},
        "curve": curve,
        "evaluations": evaluations,
        "predictions": (run_dir / "predictions.jsonl").read_text(),
        "weights": weights,
    }


def resume_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "resume with:" in line]


def run_in_process(*args: object, code: int = 0) -> list[dict]:
    """The CLI in this process (no second interpreter to start): for the uninterrupted reference and the last resume,
    which need no signal. Returns the --json events."""
    from mto_studio.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([str(a) for a in args]) == code
    return [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def model_and_data(tiny_model_dir, small_world_tsv) -> list[str]:
    return ["--model", str(tiny_model_dir), "--data", str(small_world_tsv)]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, model_and_data) -> dict:
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    run_in_process("train", *model_and_data, *TRAIN, "--out", run_dir, "--json")
    return outcome(run_dir)


def stopped_cleanly(child: Child, run_dir: Path, resume: str, after: int) -> int:
    """Checks a run that a first signal stopped; returns the step it stopped at."""
    assert child.finish() == 130, child.stderr[-3000:]
    last = child.events()[-1]
    assert (last["event"], last["status"]) == ("RunFinished", "stopped"), child.stdout[-2000:]
    step = last["step"]
    assert after < step < STEPS, f"stopped at step {step}, after {after}"
    assert (run_dir / "checkpoints" / f"step-{step:07d}").is_dir(), "the stop wrote a checkpoint of its step"
    assert json.loads((run_dir / "result.json").read_text()) == {"status": "stopped", "step": step}
    (line,) = resume_lines(child.stderr)
    assert line.endswith(f"resume with: {resume}")
    assert "Traceback" not in child.stderr
    return step


def test_train_stops_at_a_signal_aborts_at_a_second_and_resumes_to_the_uninterrupted_result(
    tmp_path, model_and_data, reference_run
):
    run_dir, store_path = tmp_path / "run", tmp_path / "runs.sqlite"
    resume = f"mto-studio train --resume {run_dir} --store {store_path}"

    def resumed() -> Child:
        return Child("train", "--resume", run_dir, "--store", store_path, "--json")

    # 1. SIGINT as soon as the run has started (before its first logged step)
    child = Child("train", *model_and_data, *TRAIN, "--out", run_dir, "--store", store_path, "--json")
    child.wait_for("the run's start", seen("RunStarted"))
    child.send(signal.SIGINT)
    stops = [stopped_cleanly(child, run_dir, resume, 0)]
    with RunStore(store_path) as store:
        assert [(r.status, r.step) for r in store.runs()] == [("stopped", stops[-1])]

    # 2. SIGINT right after an evaluation, in the resumed run
    child = resumed()
    child.wait_for("the evaluation at step 40", seen("EvalDone", min_step=40))
    assert child.events()[0]["resumed_from"] == stops[-1]
    child.send(signal.SIGINT)
    stops.append(stopped_cleanly(child, run_dir, resume, stops[-1]))

    # 3. Ctrl-C twice: the second one comes while the first one's stop waits for the next logged step; should the
    # stop win the race, the run is stopped cleanly (checked) and the next resume tries again
    for attempt in range(3):  # noqa: B007 (named in the failure message)
        child = resumed()
        child.wait_for("a logged step", seen("StepLogged", min_step=stops[-1] + 8))
        child.send(signal.SIGINT)
        child.wait_for("the stop notice", lambda c: "stopping after the current step" in c.stderr, timeout=30)
        second = time.monotonic()
        child.send(signal.SIGINT)
        code = child.finish()
        took = time.monotonic() - second
        if code != 130 or "aborted" in child.stderr:
            break
        stops.append(stopped_cleanly(child, run_dir, resume, stops[-1]))
    print(f"stops at steps {stops}; the second Ctrl-C won at attempt {attempt + 1}, {took:.2f} s before the exit")
    assert code == 130, child.stderr[-3000:]
    assert "aborted" in child.stderr, f"the second Ctrl-C never came before the stop (attempts: {attempt + 1})"
    assert took < 15, f"the process took {took:.1f} s to end after the second Ctrl-C"
    assert "Traceback" not in child.stderr and not seen("RunFinished")(child)
    (line,) = resume_lines(child.stderr)
    assert line.endswith(f"resume with: {resume}")
    with RunStore(store_path) as store:
        assert store.runs()[0].status == "interrupted", "the store row is not left 'running'"
    kept = max(int(p.name.split("-")[1]) for p in (run_dir / "checkpoints").glob("step-*"))
    assert f"aborted; the checkpoint of step {kept} in {run_dir} stays valid" in line

    # 4. resume from the last checkpoint the abort left: the result of a run that was never interrupted
    events = run_in_process("train", "--resume", run_dir, "--store", store_path, "--json")
    assert events[0]["resumed_from"] == kept >= 20
    assert outcome(run_dir) == reference_run, f"stopped at {stops}, aborted after {kept}: not the uninterrupted result"
    with RunStore(store_path) as store:
        assert store.runs()[0].status == "finished"


def test_sigterm_stops_a_sweep_after_the_current_step_and_resume_matches(tmp_path, model_and_data, reference_run):
    folder = tmp_path / "experiment"
    # the second run (unsup-nat) has the configuration of the reference train run
    sweep = ["--templates", "sup,unsup-nat", "--seeds", "1", "--shots", "full", *TRAIN[2:]]
    child = Child("sweep", *model_and_data, *sweep, "--out", folder, "--json")
    child.wait_for("run 2, step 10", in_second_run_at_step(10))
    child.send(signal.SIGTERM)
    assert child.finish() == 130, child.stderr[-3000:]
    events = child.events()
    assert events[-1]["event"] == "ExperimentFinished" and events[-1]["status"] == "stopped"
    (stop,) = [e for e in events if e["event"] == "RunFinished" and e["status"] == "stopped"]
    assert stop["step"] < STEPS and Path(stop["folder"], "checkpoints", f"step-{stop['step']:07d}").is_dir()
    (line,) = resume_lines(child.stderr)
    assert line.endswith(f"resume with: mto-studio sweep --out {folder} --resume")
    assert "Traceback" not in child.stderr
    with RunStore(folder / "runs.sqlite") as store:
        assert [r.status for r in store.runs()] == ["finished", "stopped"]
        assert store.experiments()[0].status == "stopped"
    first, second = sorted((folder / "runs").iterdir())
    first_result = (first / "result.json").read_bytes()
    events = run_in_process("sweep", "--out", folder, "--resume", "--json")
    assert [q["skipped"] for q in events if q["event"] == "RunQueued"] == [True, False]
    assert [e["resumed_from"] for e in events if e["event"] == "RunStarted"] == [stop["step"]]
    assert (first / "result.json").read_bytes() == first_result
    assert outcome(second) == reference_run, f"stopped at step {stop['step']}: not the uninterrupted result"
    with RunStore(folder / "runs.sqlite") as store:
        assert [r.status for r in store.runs()] == ["finished", "finished"]


def test_sigint_stops_analyze_cleanly_and_writes_nothing(
    tmp_path, monkeypatch, capsys, tiny_model_dir, small_world_tsv
):
    """In this process (no torch to import again): a real SIGINT, sent while the first progress is shown."""
    from mto_studio.cli import analyze_cmd, main

    shown = analyze_cmd.AnalysisBar.__call__

    def show(self, event) -> None:
        if getattr(event, "total", 0) > 1 and not getattr(self, "signalled", False):
            self.signalled = True
            signal.raise_signal(signal.SIGINT)
        shown(self, event)

    monkeypatch.setattr(analyze_cmd.AnalysisBar, "__call__", show)
    out = tmp_path / "analysis.json"
    args = ["analyze", "--model", tiny_model_dir, "--data", small_world_tsv, "--strategy", "probe,rules", "--out", out]
    assert main([str(a) for a in args]) == 130
    captured = capsys.readouterr()
    # the total counts the scoring passes too (2 strategies × 2 relations + 2 rankings + passes): the bar moves then
    assert "analysis stopped after 1 of " in captured.err and " steps; nothing was written to" in captured.err
    assert not out.exists() and not captured.out


# --- in-process: the driver and the commands' exit codes --------------------------------------------------------
def _fake_stream(events, *, signal_at: int | None = None, signals: int = 1):
    """A generator standing in for a job: yields ``events``; before event ``signal_at`` it sends itself ``signals``
    SIGINTs (the handler runs at once, in this thread)."""
    from mto_studio.core.jobs.events import Stop

    def stream():
        for i, event in enumerate(events):
            if i == signal_at:
                for _ in range(signals):
                    signal.raise_signal(signal.SIGINT)
            command = yield event
            if isinstance(command, Stop):
                yield "stopped"
                return

    return stream()


class _Collect(list):
    def __call__(self, event) -> None:
        self.append(event)

    def close(self) -> None:
        pass


def test_drive_turns_the_first_sigint_into_stop_and_restores_the_handlers():
    from mto_studio.cli.progress import drive

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    seen_events = _Collect()
    last = drive(_fake_stream(["a", "b", "c", "d"], signal_at=2), seen_events)
    assert (seen_events, last) == (["a", "b", "c", "stopped"], "stopped"), "Stop went in at the next event"
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    with pytest.raises(KeyboardInterrupt):
        drive(_fake_stream(["a", "b", "c", "d"], signal_at=1, signals=2), _Collect())
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_drive_stops_the_work_when_its_output_is_closed(monkeypatch):
    """`mto-studio train --json | head`: the pipe closes, the run stops resumably instead of dying at exit 0."""
    from mto_studio.cli import progress

    monkeypatch.setattr(progress, "silence_stdout", lambda: None)  # this process's stdout is pytest's

    class ClosedAfterOne(_Collect):
        def __call__(self, event) -> None:
            if self:
                raise BrokenPipeError(32, "Broken pipe")
            self.append(event)

    printer = ClosedAfterOne()
    assert progress.drive(_fake_stream(["a", "b", "c", "d"]), printer) == "stopped"
    assert printer == ["a"]


@pytest.mark.parametrize(
    ("command", "target", "args"),
    [
        ("train", "mto_studio.core.training.loop.train", []),
        ("sweep", "mto_studio.core.training.experiment.run_experiment", ["--templates", "sup"]),
        ("pretrain", "mto_studio.core.pretraining.objective_lab.pretrain", ["--recipe", str(RECIPE)]),
        ("analyze", "mto_studio.core.analysis.analyze.analyze", ["--strategy", "rules"]),
    ],
)  # fmt: skip
def test_work_that_ends_without_its_final_event_is_not_a_success(tmp_path, monkeypatch, capsys, command, target, args):
    from mto_studio.cli import main
    from mto_studio.core.jobs.events import RunStarted, StepLogged

    cut_short = [RunStarted("r", "r", 10), StepLogged("r", 5, 10, 1.0, 1e-3, 40, 1.0, 1.0)]
    monkeypatch.setattr(target, lambda *a, **k: (event for event in cut_short))
    out = [] if command == "analyze" else ["--out", str(tmp_path / "out")]
    code = main([command, *args, *out])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "ended without a result (its last event was StepLogged)" in err
