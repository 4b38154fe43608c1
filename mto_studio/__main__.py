"""Entry point for ``python -m mto_studio``."""

import sys

from mto_studio.cli import main

if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()  # a packaged app's spawned worker processes start here
    sys.exit(main())
