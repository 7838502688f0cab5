"""``cvxcnn certify``: upper bound, lower bound and gap of a given ReLU network.

The geometry (kernel, stride, padding, bias, residual) and ``beta`` default
to the metadata stored in the weights file; flags override it. The oracle
searches every cell (``--certify exact``: certified), ``--patterns`` sampled
cells (``sampled``: an estimate), or decides by the count bound (``auto``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from cvxcnn.certify import certify_relu
from cvxcnn.cli.common import (
    DATA_DEFAULTS,
    INPUT_ERRORS,
    RunContext,
    add_common_flags,
    add_data_args,
    add_geometry_args,
    add_loss_args,
    build_problem,
    certificate_lines,
    data_summary,
    float_arg,
    int_arg,
    load_data,
    make_loss,
    oracle_cells,
    print_lines,
    refuse,
    write_result,
)
from cvxcnn.cli.errors import UsageError, one_line
from cvxcnn.cli.output import check_output_file
from cvxcnn.networks import load_network

#: Used when neither a flag nor the weights file gives a value.
DEFAULTS = {**DATA_DEFAULTS, "loss": "squared", "huber_delta": 1.0, "certify": "auto"}
DEFAULTS |= {"patterns": 5000, "data_directed": 0.1, "max_cells": 200_000}
GEOMETRY = {"kernel": 3, "stride": 1, "padding": "same", "bias": False, "residual": False}
GEOMETRY |= {"beta": None}


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``cvxcnn certify``."""
    p = sub.add_parser(
        "certify", help="upper bound, lower bound and gap of a given network (.npz weights)"
    )
    p.add_argument("--weights", type=Path, required=True, help="ReLU network .npz (U, v)")
    add_data_args(p)
    g = p.add_argument_group("model (defaults: the metadata stored in the weights file)")
    add_geometry_args(g)
    add_loss_args(g)
    g = p.add_argument_group("oracle")
    g.add_argument(
        "--certify",
        choices=("auto", "exact", "sampled"),
        help="exact: every cell (certified); sampled: --patterns cells (estimated); auto "
        "(default): exact when the cell-count bound is at most --max-cells, else sampled",
    )
    g.add_argument("--patterns", type=int_arg(1), help="sampled cells (default 5000)")
    g.add_argument(
        "--data-directed",
        type=float_arg(0.0, inclusive=True, maximum=1.0),
        help="fraction of sampled cells from data-directed generators (default 0.1)",
    )
    g.add_argument("--max-cells", type=int_arg(1), help="bound for exact (default 200000)")
    p.add_argument("--out", type=Path, help="JSON certificate file")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    add_common_flags(p)
    return p


def read_metadata(path: Path) -> dict:
    """The non-weight arrays of a weights file, as Python values."""
    with np.load(path, allow_pickle=False) as f:
        meta = {k: f[k] for k in f.files if k not in ("U", "v")}
    out = {}
    for key, item in meta.items():
        out[key] = item.item() if item.ndim == 0 else tuple(item.reshape(-1).tolist())
    return out


def load_weights(path: Path) -> tuple[object, dict]:
    """The ReLU network and metadata of ``--weights`` (exit 2 on any bad file)."""
    if not path.is_file():
        raise UsageError("--weights", f"{path}: no such file; pass a .npz weights file")
    try:
        return load_network(path), read_metadata(path)
    except INPUT_ERRORS as exc:
        raise UsageError("--weights", f"cannot read {path}: {one_line(exc)}") from exc


def from_metadata(args: argparse.Namespace, explicit: set[str], meta: dict) -> None:
    """Fill the geometry flags the user did not give from the weights file."""
    keys = {"kernel": ("kernel_size", "kernel")}
    for name, default in GEOMETRY.items():
        if getattr(args, name) is not None:
            explicit.add(name)
            continue
        stored = [meta[k] for k in keys.get(name, (name,)) if k in meta]
        value = stored[0] if stored else default
        if name == "padding" and isinstance(value, tuple):  # stored as (before, after) pairs
            value = "same" if value[::2] != value[1::2] else value[::2]
        if isinstance(value, tuple) and len(set(value)) == 1:
            value = value[0]
        setattr(args, name, value)
    if args.beta is None:
        raise UsageError("--beta", "the weights file does not record beta; pass --beta B")


def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Run ``cvxcnn certify``; returns the exit status."""
    check_output_file(args.out, "--out")
    if args.certify == "exact":
        refuse(ctx.explicit, ("patterns", "data_directed"), "--certify exact samples nothing")
    network, meta = load_weights(args.weights)
    from_metadata(args, ctx.explicit, meta)
    ctx.config.update({k: getattr(args, k) for k in GEOMETRY})
    loss = make_loss(args, ctx.explicit)
    data = load_data(args, ctx.explicit)
    problem = build_problem(args, data)
    if network.d != problem.d:
        raise UsageError(
            "--weights",
            f"the network has inputs of size {network.d} but the patches have {problem.d}; "
            "pass the --kernel/--bias the network was trained with",
        )
    start = time.perf_counter()
    cells = oracle_cells(
        problem.Y,
        args.certify,
        samples=args.patterns,
        max_cells=args.max_cells,
        data_directed=args.data_directed,
        seed=args.seed,
    )
    if args.certify == "auto" and not cells.exact:
        print_lines(args, [f"note: too many cells; searching {len(cells)} sampled (ESTIMATE)"])
    cert = certify_relu(network, problem, cells, beta=float(args.beta), loss=loss)
    payload = {**cert.to_dict(), **data_summary(args, data), "weights": str(args.weights)}
    payload |= {"neurons": network.n_neurons, "n": problem.n, "d": problem.d}
    payload["cells_seconds"] = time.perf_counter() - start - cert.oracle_seconds
    print_lines(args, certificate_lines(cert))
    return write_result(args, ctx, payload, True)
