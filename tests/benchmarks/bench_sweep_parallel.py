"""Benchmark: a 4-run sweep's wall time with `--parallel 2` against the same sweep run sequentially, both on the
`process` backend (the named baseline: `sequential`, one worker runs the runs one after another with all the
machine's threads; `parallel-2`: two run workers at once, the threads split between them). Each sweep is a fresh
`python -m mto_studio sweep` process, timed from start to exit; the tables must come out identical. Prints both
times and the ratio sequential / parallel-2 (above 1: the parallel sweep is faster).

    .venv/bin/python tests/benchmarks/bench_sweep_parallel.py [--steps 60] [--cores 2]

(`--cores` pins the sweeps to that many CPUs with taskset where it exists.) Measured on the 2-core machine: see
docs/NOTES.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def sweep_args(steps: int) -> list[str]:
    return ["--templates", "unsup-nat,sup", "--shots", "8", "--seeds", "2", "--relations", "AtLocation,xIntent",
            "--steps", str(steps), "--eval-every", str(max(steps // 3, 1)), "--set", "max_test_heads=6",
            "--set", "max_eval_heads=6", "--json"]  # fmt: skip


def timed_sweep(folder: Path, steps: int, extra: list[str], cores: int | None) -> float:
    command = [sys.executable, "-m", "mto_studio", "sweep", *sweep_args(steps), "--backend", "process", *extra]
    command += ["--out", str(folder)]
    if cores and shutil.which("taskset"):
        command = ["taskset", "-c", f"0-{cores - 1}", *command]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("MTO_BACKEND", None)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"the sweep failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return wall


def cells(folder: Path) -> list:
    tables = json.loads((folder / "tables.json").read_text())
    return [(t["group"], t["metric"], [(c["template"], c["shots"], c["mean"], c["sd"]) for c in t["cells"]])
            for t in tables]  # fmt: skip


def benchmark(steps: int = 60, cores: int | None = 2) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="mto-bench-parallel-"))
    try:
        sequential = timed_sweep(root / "sequential", steps, [], cores)
        parallel = timed_sweep(root / "parallel", steps, ["--parallel", "2"], cores)
        same = cells(root / "sequential") == cells(root / "parallel")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ratio = sequential / parallel
    try:
        load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    print(f"\n4-run sweep of mto-tiny ({steps} steps per run), process backend, {cores or os.cpu_count()} cores, "
          f"load average {load}:")  # fmt: skip
    print(f"  sequential (baseline: --parallel 1)  {sequential:7.1f} s")
    print(f"  --parallel 2                         {parallel:7.1f} s")
    print(f"  ratio sequential / parallel-2        {ratio:7.2f}×   tables identical: {same}")
    return {"sequential_s": sequential, "parallel_s": parallel, "ratio": ratio, "same_tables": float(same)}


def test_parallel_sweep_benchmark():
    result = benchmark()
    assert result["same_tables"] == 1.0, "a parallel sweep must give the sequential sweep's table"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--cores", type=int, default=2)
    options = parser.parse_args()
    benchmark(options.steps, options.cores)
