"""Run the scaling benchmark (see :mod:`cvxcnn.bench.scaling`); same as ``cvxcnn bench scaling``.

Usage::

    python benchmarks/scaling.py --out bench-out [--size tiny|default|paper] [--seed 0] [--quiet]
"""

from __future__ import annotations

import sys

from cvxcnn.bench.cli_bench import main

if __name__ == "__main__":
    sys.exit(main(["scaling", *sys.argv[1:]]))
