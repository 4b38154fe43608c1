"""Entry point for ``python -m mto_studio``."""

import sys

from mto_studio.cli import main

if __name__ == "__main__":
    sys.exit(main())
