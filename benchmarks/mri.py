"""Run the mri benchmark (see :mod:`cvxcnn.bench.mri`); same as ``cvxcnn bench mri``.

Usage::

    python benchmarks/mri.py --out bench-out [--size tiny|default|paper] [--seed 0] [--quiet]
"""

from __future__ import annotations

import sys

from cvxcnn.bench.cli_bench import main

if __name__ == "__main__":
    sys.exit(main(["mri", *sys.argv[1:]]))
