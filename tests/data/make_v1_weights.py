"""How the format-1 weights files in this folder were made (kept for the record).

Run ONCE, at commit 302a3e4 (branch ``weights`` before the format-2 writer),
from the repository root::

    PYTHONPATH=. python tests/data/make_v1_weights.py

It calls the writers of that commit exactly as their callers did, so the files
are what users hold today; ``tests/test_network_io.py`` checks that the one
reader still loads them. Running it after the format-2 change would write
format-2 files (or fail): do not regenerate, these files are fixtures.

- ``relu_v1.npz``: ``cvxcnn solve --save-weights`` (``cli.run_solve``):
  ``save_network(path, network, beta=..., kernel=...)``.
- ``st_v1.npz``: ``cvxcnn solve --activation st --save-weights``
  (``cli_st.run_st_solve``): ``save_st_network(path, network, beta=..., kernel=...)``.
- ``relu_trainer_v1.npz`` / ``st_trainer_v1.npz``: ``cvxcnn train --out``
  (``TrainResult.save``): full geometry metadata, padding as (before, after) pairs.
- ``st_old_v1.npz``: the oldest soft-threshold layout (commit 3527872's
  trainer): ``activation="st"`` and the thresholds as ``t``; written here with
  ``np.savez`` in that layout, since that code cannot run beside today's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cvxcnn.networks import ReluNetwork, save_network
from cvxcnn.soft_threshold.network import STNetwork, save_st_network

HERE = Path(__file__).parent


def main() -> None:
    rng = np.random.default_rng(2024)
    relu = ReluNetwork(rng.standard_normal((3, 9)), rng.standard_normal(3))
    save_network(HERE / "relu_v1.npz", relu, beta=0.05, kernel=3)

    st = STNetwork(
        U=rng.standard_normal((3, 9)), thresholds=rng.random(3), v=rng.standard_normal(3)
    )
    save_st_network(HERE / "st_v1.npz", st, beta=0.05, kernel=3)

    from cvxcnn.primal import train_primal

    clean = rng.random((2, 5, 5))
    noisy = clean + 0.1 * rng.standard_normal(clean.shape)
    common = dict(kernel_size=3, padding=1, bias=True, neurons=3, beta=0.01, epochs=2)
    res = train_primal(noisy, clean, residual=True, verbose=False, **common)
    res.save(HERE / "relu_trainer_v1.npz")
    res = train_primal(
        noisy,
        clean,
        activation="st",
        learn_threshold=True,
        verbose=False,
        **common,
    )
    res.save(HERE / "st_trainer_v1.npz")

    U, v, t = rng.standard_normal((2, 4)), rng.standard_normal(2), rng.random(2)
    np.savez(
        HERE / "st_old_v1.npz",
        U=U,
        v=v,
        activation=np.array("st"),
        beta=0.1,
        kernel_size=np.array([2, 2]),
        stride=np.array([1, 1]),
        padding=np.array([[0, 1], [0, 1]]),
        bias=False,
        residual=False,
        readout="identity",
        in_channels=1,
        final_objective=1.5,
        t=t,
    )


if __name__ == "__main__":
    main()
