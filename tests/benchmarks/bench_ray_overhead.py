"""Benchmark: what running a job as a Ray task on a local cluster costs against running it inline (the named
baseline "inline": the job in this thread), with the process backend for comparison.

1. A trivial job that yields N events (N = 1, 100, 1000): per-run overhead (N = 1) and per-event overhead (the slope
   from N = 100 to N = 1000), on a warm cluster (its channel actor and a worker already started).
2. A short mto-tiny training run (30 steps, k = 8): the first run on a fresh worker (it imports torch) and a second
   one on the warm worker.

Run on demand:  .venv/bin/python tests/benchmarks/bench_ray_overhead.py
            or  .venv/bin/python -m pytest tests/benchmarks/bench_ray_overhead.py -s
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script: the job targets below are imported by name, here and in workers
    sys.path.insert(0, str(REPO))

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("MTO_THREADS", "1")

from tests.helpers import SHORT_RUN  # noqa: E402 - after the path and environment above

TRIVIAL = "tests.benchmarks.bench_ray_overhead:trivial_job"
TRAIN = SHORT_RUN


def trivial_job(n: int = 1):
    """A job of ``n`` Progress events and nothing else."""
    from mto_studio.core.jobs.events import Progress

    for i in range(n):
        yield Progress("bench", i + 1, n)
    return n


def _timed(stream) -> tuple[float, int]:
    begun, count = time.perf_counter(), 0
    for _ in stream:
        count += 1
    return time.perf_counter() - begun, count


def _best(make, repeats: int = 5) -> float:
    return min(_timed(make())[0] for _ in range(repeats))


def benchmark() -> dict[str, float]:
    from mto_studio.core.jobs import ray_backend
    from mto_studio.core.jobs.process import JobSpec, run_in_process, run_inline
    from mto_studio.core.training.jobs import train_spec

    begun = time.perf_counter()
    ray_backend.connect(None)
    connect_s = time.perf_counter() - begun
    _timed(ray_backend.run_on_ray(JobSpec(TRIVIAL, {"n": 1})))  # the channel actor and a first worker
    print(f"connect (local cluster, {os.cpu_count()} CPUs): {connect_s:.2f} s")
    figures: dict[str, float] = {"connect_s": connect_s}

    print("\ntrivial job: N events, best of 5 (ratio against the baseline 'inline')")
    print(f"{'N':>6} {'inline s':>10} {'ray s':>10} {'ratio':>8}")
    for n in (1, 100, 1000):
        inline = _best(lambda n=n: run_inline(JobSpec(TRIVIAL, {"n": n})))
        ray = _best(lambda n=n: ray_backend.run_on_ray(JobSpec(TRIVIAL, {"n": n})))
        figures[f"inline_{n}"], figures[f"ray_{n}"] = inline, ray
        print(f"{n:>6} {inline:>10.4f} {ray:>10.4f} {ray / max(inline, 1e-6):>8.0f}x")
    per_run = figures["ray_1"] - figures["inline_1"]
    per_event = (figures["ray_1000"] - figures["ray_100"] - figures["inline_1000"] + figures["inline_100"]) / 900
    figures["per_run_s"], figures["per_event_s"] = per_run, per_event
    print(f"per-run overhead {per_run * 1000:.1f} ms, per-event overhead {per_event * 1000:.3f} ms")

    print("\nmto-tiny training run (30 steps, k = 8)")
    root = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    try:
        runs = {
            "inline": lambda f: run_inline(train_spec(TRAIN, f)),
            "process": lambda f: run_in_process(train_spec(TRAIN, f)),
            "ray (fresh worker)": lambda f: ray_backend.run_on_ray(train_spec(TRAIN, f, threads=1)),
            "ray (warm worker)": lambda f: ray_backend.run_on_ray(train_spec(TRAIN, f, threads=1)),
        }
        _timed(run_inline(train_spec(TRAIN, root / "warm-up")))  # torch and the model in this process too
        _kill_ray_workers()
        for name, make in runs.items():
            seconds, events = _timed(make(root / name.split()[0] / name.replace(" ", "-")))
            figures[f"train_{name}"] = seconds
            ratio = seconds / figures["train_inline"]
            print(f"{name:>20}: {seconds:6.2f} s  ({events} events)  {ratio:.2f}x inline")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        ray_backend.shutdown()
    return figures


def _kill_ray_workers() -> None:
    """Make the next task start on a fresh worker (one that has not imported torch yet)."""
    import signal

    from mto_studio.core.jobs import ray_backend
    from mto_studio.core.jobs.process import JobSpec

    for event in ray_backend.run_on_ray(JobSpec(TRIVIAL, {"n": 1})):
        if hasattr(event, "pid"):
            pid = event.pid
    time.sleep(0.5)  # let the task end first (a worker killed inside its task makes Ray log an unhandled error)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    time.sleep(1.0)


def test_ray_overhead() -> None:
    figures = benchmark()
    assert figures["per_event_s"] < 0.01


if __name__ == "__main__":
    benchmark()
