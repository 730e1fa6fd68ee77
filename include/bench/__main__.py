"""``python -m include.bench`` (``make bench``): see :mod:`include.bench.run`."""

from __future__ import annotations

import sys

from include.bench.run import main

if __name__ == "__main__":
    sys.exit(main())
