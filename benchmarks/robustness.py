"""Run the robustness benchmark (:mod:`cvxcnn.bench.robustness`); as ``cvxcnn bench robustness``.

Usage::

    python benchmarks/robustness.py --out bench-out [--size tiny|default|paper] [--seed 0] [--quiet]
"""

from __future__ import annotations

import sys

from cvxcnn.bench.cli_bench import main

if __name__ == "__main__":
    sys.exit(main(["robustness", *sys.argv[1:]]))
