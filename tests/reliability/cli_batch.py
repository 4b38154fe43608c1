"""Run many `mto-studio` command lines in one process, each as `python -m mto_studio ARGS` runs it, so a table of
a hundred bad inputs costs one start-up of torch/datasets instead of a hundred.

Per command line: its own working folder; file descriptors 1 and 2 point at files of their own (so whatever writes
there — print, logging handlers made earlier, warnings, tqdm, native code — is captured, as a terminal would show
it); the warning registries are cleared (a fresh process shows every warning once); and the exit status is what
``sys.exit(main())`` would give: main's return value, a SystemExit's code, or 1 with the traceback printed for an
exception that escapes. ``tests/reliability/test_bad_inputs.py`` checks a sample of cases against real separate
processes.

    python -m tests.reliability.cli_batch JOBS.json RESULTS.json
JOBS.json: [{"id": …, "argv": [...], "cwd": "…"}, …]; RESULTS.json: {id: {"rc", "stdout", "stderr", "seconds"}}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _fresh_warnings() -> None:
    for module in list(sys.modules.values()):
        registry = getattr(module, "__warningregistry__", None)
        if isinstance(registry, dict):
            registry.clear()


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("text") prints the text and exits 1
    return 1


def run_one(argv: list[str], cwd: str) -> dict:
    from mto_studio.cli import main

    home = os.getcwd()
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        _fresh_warnings()
        try:
            os.chdir(cwd)
            try:
                rc = _exit_code(main(argv))
            except SystemExit as exc:
                rc = _exit_code(exc.code)
            except BaseException:  # what the interpreter does with an exception that escapes main()
                traceback.print_exc()
                rc = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            os.chdir(home)
        out.seek(0)
        err.seek(0)
        return {
            "rc": rc,
            "stdout": out.read().decode("utf-8", "replace"),
            "stderr": err.read().decode("utf-8", "replace"),
            "seconds": round(time.perf_counter() - started, 3),
        }


#: Command lines that may import torch or transformers run in one process, the others in a second one that never does.
HEAVY = ("train", "analyze", "sweep", "pretrain")


def _heavy(argv: list[str]) -> bool:
    return argv[0] in HEAVY or "--tokenizer" in argv


def run_batches(jobs: list[dict], folder: Path, timeout: float = 600) -> dict[str, dict]:
    """Run ``jobs`` in two processes of this module at once (those that may import torch in one); id → result."""
    parts = [[job for job in jobs if _heavy(job["argv"]) is side] for side in (True, False)]
    running = []
    for i, part in enumerate(p for p in parts if p):
        jobs_file, results_file = folder / f"jobs-{i}.json", folder / f"results-{i}.json"
        jobs_file.write_text(json.dumps(part), encoding="utf-8")
        command = [sys.executable, "-m", "tests.reliability.cli_batch", str(jobs_file), str(results_file)]
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        running.append((process, results_file))
    results: dict[str, dict] = {}
    for process, results_file in running:
        output, _ = process.communicate(timeout=timeout)
        assert process.returncode == 0, output.decode(errors="replace")[-3000:]
        results.update(json.loads(results_file.read_text(encoding="utf-8")))
    return results


def main(jobs_path: str, results_path: str) -> int:
    with open(jobs_path, encoding="utf-8") as handle:
        jobs = json.load(handle)
    results = {job["id"]: run_one(job["argv"], job["cwd"]) for job in jobs}
    with open(results_path, "w", encoding="utf-8") as handle:
        json.dump(results, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
