"""Run the ablation benchmark (see :mod:`cvxcnn.bench.ablation`); same as ``cvxcnn bench ablation``.

Usage::

    python benchmarks/ablation.py --out bench-out [--size tiny|default|paper] [--seed 0] [--quiet]
"""

from __future__ import annotations

import sys

from cvxcnn.bench.cli_bench import main

if __name__ == "__main__":
    sys.exit(main(["ablation", *sys.argv[1:]]))
