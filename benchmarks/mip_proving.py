"""The proving call of column generation: HiGHS (polytope + cuts) against SCIP (the exact ball).

For a saved ReLU network (e.g. the one ``cvxcnn solve --method colgen --certify exact``
returns) this times the oracle call that must prove ``M(g) <= U*`` for the
network's residual, where ``U*`` is the largest oracle upper end that still
certifies ``--gap-tol`` (``cvxcnn.colgen.sufficient_oracle_upper``):

- HiGHS: :func:`cvxcnn.mip_oracle.relu_mip_oracle` with ``threshold=U*``
  (a fresh model; the warm starts are the network's own neurons);
- SCIP (``pip install pyscipopt``, optional): :func:`cvxcnn.scip_oracle.scip_sign`
  one sign at a time, the ball as the convex quadratic constraint
  ``||u||^2 <= 1``, with the objective limit ``U*`` (status ``infeasible``
  = proven).

SCIP's bound holds up to its feasibility tolerance (1e-6 by default); it is
a comparison, not a certificate. Timings are wall seconds (say how loaded
the machine was).

    python benchmarks/mip_proving.py --weights crop6_net.npz --data crop6.npz \
        --beta 0.1 --time-limit 600 --out proving.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from cvxcnn import load_network, make_problem
from cvxcnn.certificates import dual_direction
from cvxcnn.colgen import sufficient_oracle_upper
from cvxcnn.losses import get_loss
from cvxcnn.mip_oracle import relu_mip_oracle
from cvxcnn.networks import primal_objective
from cvxcnn.scip_oracle import scip_sign


def scip_proof(Y: np.ndarray, g: np.ndarray, stop: float, seconds: float) -> dict:
    """Both signs by :func:`cvxcnn.scip_oracle.scip_sign` with the objective limit ``stop``."""
    out = {}
    for s in (1.0, -1.0):
        start = time.perf_counter()
        res = scip_sign(Y, s * g, seconds, threshold=stop)
        out[f"{s:+.0f}"] = {
            "seconds": time.perf_counter() - start,
            "upper": res.upper,
            "status": res.status,
            "nodes": res.nodes,
        }
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--data", required=True, help=".npz with 'noisy' and 'clean'")
    parser.add_argument("--kernel", type=int, default=3)
    parser.add_argument("--beta", type=float, required=True)
    parser.add_argument("--gap-tol", type=float, default=1e-7)
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--no-scip", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    data = np.load(args.data)
    problem = make_problem(data["noisy"], data["clean"], kernel_size=args.kernel)
    network = load_network(args.weights).network
    loss = get_loss("squared")
    r, g = dual_direction(network, problem, loss)
    upper = primal_objective(network, problem, args.beta, loss)
    stop = sufficient_oracle_upper(loss, r, problem.target, args.beta, upper, args.gap_tol)
    Y = problem.Y
    norms = np.linalg.norm(network.U, axis=1)
    starts = network.U[norms > 0] / norms[norms > 0, None]
    highs = relu_mip_oracle(Y, g, time_limit=args.time_limit, starts=starts, threshold=stop)
    out = {
        "beta": args.beta,
        "objective": upper,
        "stop": stop,
        "stop_over_beta": stop / args.beta,
        "highs": {
            "seconds": highs.seconds,
            "upper_over_beta": highs.upper / args.beta,
            "lower_over_beta": highs.lower / args.beta,
            "proved": highs.proved_below,
            "nodes": highs.nodes,
            "rounds": highs.rounds,
        },
    }
    if not args.no_scip:
        out["scip"] = scip_proof(Y, g, stop, args.time_limit)
    print(json.dumps(out, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
