"""Run the certify benchmark (see :mod:`cvxcnn.bench.certify`); same as ``cvxcnn bench certify``.

Usage::

    python benchmarks/certify.py --out bench-out [--config quick|full|digits] [--seed 0] [--quiet]
"""

from __future__ import annotations

import sys

from cvxcnn.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "certify", *sys.argv[1:]]))
