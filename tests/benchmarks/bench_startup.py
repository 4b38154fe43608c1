"""Benchmark: how fast the window appears, and how fast it closes while the project is still loading.

Printed (median of --runs fresh processes each, under the current display; use Xvfb for numbers users see):
  bare      a bare PySide6 main window: process start to first paint (the machine's floor; the named baseline)
  app       MTO Studio's window on the default project (MTO_STARTUP_PROBE): process start to first paint
  close     MainWindow.close() called right after the first paint, while the data and tokenizer still load:
            seconds until close() returns
Goals: app ≤ 2 × bare; close ≤ 0.5 s.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tests/benchmarks/bench_startup.py [--runs 5]

Measured on the 2-core machine, idle, Xvfb 1600x1000 (median of 5): see docs/NOTES.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BARE = """
import sys, time, psutil
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow
app = QApplication(sys.argv)
window = QMainWindow(); window.setCentralWidget(QLabel("bare")); window.resize(1600, 1000); window.show()
window.repaint()
def report():
    print(f"VALUE {time.time() - psutil.Process().create_time():.3f}"); app.quit()
QTimer.singleShot(0, report)
app.exec()
"""

CLOSE = """
import sys, time
from mto_studio.core.runtime import prepare_environment
prepare_environment()
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from mto_studio.core.project import Project
from mto_studio.gui.context import StudioContext
from mto_studio.gui.main_window import MainWindow
app = QApplication(sys.argv)
context = StudioContext(Project.open_or_create_default())
window = MainWindow(context)
window.show()
window.repaint()
def close():
    loading = context.data is None
    start = time.perf_counter()
    window.close()
    print(f"VALUE {time.perf_counter() - start:.3f} LOADING {loading}")
    app.quit()
QTimer.singleShot(0, close)
app.exec()
context.shutdown()
"""


def _value(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    for line in done.stdout.splitlines():
        if line.startswith("VALUE "):
            return float(line.split()[1]), line
        if line.startswith("startup: window visible after"):
            return float(line.split()[-2]), line
    raise RuntimeError(f"no measurement in the output of {args[:3]}: {done.stdout[-500:]} {done.stderr[-1500:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    python = sys.executable
    app = str(Path(python).with_name("mto-studio"))
    with tempfile.TemporaryDirectory(prefix="mto-bench-startup-") as home:
        env = dict(os.environ, MTO_STUDIO_DATA_DIR=str(Path(home) / "data"), XDG_CONFIG_HOME=str(Path(home) / "cfg"))
        subprocess.run([app, "--version"], capture_output=True, env=env, timeout=120)  # warm the file cache
        bare = [_value([python, "-c", BARE], env)[0] for _ in range(args.runs)]
        started = [_value([app], dict(env, MTO_STARTUP_PROBE="1"))[0] for _ in range(args.runs)]
        closing = []
        for _ in range(args.runs):
            value, line = _value([python, "-c", CLOSE], env)
            closing.append(value)
            if "LOADING False" in line:
                print("note: the data had finished loading before close() in one run")
    b, a, c = statistics.median(bare), statistics.median(started), statistics.median(closing)
    print(f"bare PySide6 window (baseline): {b:.2f} s  (runs: {', '.join(f'{x:.2f}' for x in bare)})")
    print(f"MTO Studio window:              {a:.2f} s  (runs: {', '.join(f'{x:.2f}' for x in started)})")
    print(f"ratio app / bare:               {a / b:.2f}x  (goal <= 2.0x)")
    print(f"close during the first load:    {c:.2f} s  (runs: {', '.join(f'{x:.2f}' for x in closing)}; goal <= 0.5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
