"""Entry point of both executables of the bundle, which share one Analysis (and so one copy of every library).

    mto-studio       console: the command line (`mto-studio --self-test`, `mto-studio train …`); no command opens
                     the app, as `mto-studio` does from a source install
    mto-studio-gui   windowed: the desktop app (what the .desktop file, the Start menu and the macOS .app launch);
                     it still answers --self-test, --version and --help like the console program

The program's own file name picks the role.
"""

import multiprocessing
import os
import sys

CLI_FLAGS = ("--self-test", "--window-check", "--version", "-h", "--help")


def main() -> int:
    # A windowed Windows executable has no console: sys.stdout/stderr are None and the first print (tqdm, logging,
    # the startup probe) would raise. Send them to the null device.
    for stream in ("stdout", "stderr"):
        if getattr(sys, stream) is None:
            setattr(sys, stream, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - lives as long as the app
    # With no locale at all (env -i, some service managers) use C.UTF-8, as python itself does (PEP 538); Qt would
    # switch to it anyway, with a warning on every start.
    if sys.platform.startswith("linux") and not any(os.environ.get(v) for v in ("LC_ALL", "LC_CTYPE", "LANG")):
        os.environ["LC_CTYPE"] = "C.UTF-8"
    program = os.path.splitext(os.path.basename(sys.executable))[0].lower()
    if program.endswith("-gui") and not any(arg in CLI_FLAGS for arg in sys.argv[1:]):
        from mto_studio.gui.app import run_app

        return run_app([])
    from mto_studio.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    multiprocessing.freeze_support()  # datasets can fork workers (num_proc); harmless otherwise
    sys.exit(main())
